namespace Kiln.Core.Actions;

/// <summary>
/// What identifies a compiler for caching: the digest of its binary, its target triple and version.
/// A name is not enough (distcc's lesson: "not even sufficient to check the gcc version string").
/// </summary>
public sealed record CompilerIdentity(Hashing.Digest BinaryDigest, string Target, string Version)
{
    /// <summary>A short text for logs: target, version and the first hex digits of the binary.</summary>
    public override string ToString() => $"{Target} {Version} ({BinaryDigest.Hex[..12]})";
}
