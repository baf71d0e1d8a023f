namespace Kiln.Core.Discovery;

/// <summary>
/// One question. <see cref="UnicastResponse"/> is the mDNS "QU" bit, the top bit of the class field
/// (RFC 6762 §5.4); <see cref="Class"/> holds the other 15 bits (1 = IN).
/// </summary>
public sealed record DnsQuestion(string Name, DnsRecordType Type, ushort Class = DnsQuestion.ClassInternet, bool UnicastResponse = false)
{
    /// <summary>The Internet class.</summary>
    public const ushort ClassInternet = 1;
}
