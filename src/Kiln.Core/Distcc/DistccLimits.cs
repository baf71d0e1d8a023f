namespace Kiln.Core.Distcc;

/// <summary>
/// Caps on what a distcc peer may announce, checked against the header before anything is buffered.
/// distcc itself allocates whatever length a header claims; these bound a hostile peer.
/// </summary>
public static class DistccLimits
{
    /// <summary>Most arguments in ARGC (a large C++ compile line has a few hundred).</summary>
    public const int MaxArguments = 10_000;

    /// <summary>Longest single ARGV, CDIR, NAME or LINK string.</summary>
    public const int MaxStringBytes = 64 << 10;

    /// <summary>Most bytes of all ARGV strings together.</summary>
    public const int MaxArgumentBytes = 2 << 20;

    /// <summary>Largest body (DOTI, DOTO, SERR, SOUT, FILE, DOTD), on the wire and decompressed.</summary>
    public const int MaxBodyBytes = 256 << 20;

    /// <summary>Most files in one pump-mode request (NFIL); a large C++ unit sends a few thousand headers.</summary>
    public const int MaxFiles = 20_000;

    /// <summary>Most bytes of all pump-mode files together, decompressed.</summary>
    public const long MaxFileBytesTotal = 512L << 20;
}
