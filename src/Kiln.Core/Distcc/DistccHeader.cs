namespace Kiln.Core.Distcc;

/// <summary>
/// One distcc packet header: a four-letter token (DIST, ARGC, ARGV, DOTI, DONE, STAT…) and a 32-bit
/// value, which is either a number (a version, a count, a wait status) or the length of the body that
/// follows.
/// </summary>
/// <param name="Token">The four ASCII letters.</param>
/// <param name="Value">The value carried in the eight hex digits.</param>
public readonly record struct DistccHeader(string Token, uint Value)
{
    /// <summary>The header as it appears on the wire, for messages: <c>ARGC00000005</c>.</summary>
    public override string ToString() => $"{Token}{Value:x8}";
}
