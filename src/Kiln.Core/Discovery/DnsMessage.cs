namespace Kiln.Core.Discovery;

/// <summary>A DNS message: header fields and the four sections (RFC 1035 §4.1).</summary>
public sealed record DnsMessage
{
    /// <summary>QR bit: a response.</summary>
    public const ushort ResponseFlag = 0x8000;

    /// <summary>AA bit: authoritative answer (every mDNS response sets it).</summary>
    public const ushort AuthoritativeFlag = 0x0400;

    /// <summary>Query identifier (0 in multicast messages).</summary>
    public ushort Id { get; init; }

    /// <summary>The flags word as on the wire (QR, opcode, AA, TC, RD, RA, Z, RCODE).</summary>
    public ushort Flags { get; init; }

    /// <summary>True when the QR bit is set.</summary>
    public bool IsResponse => (Flags & ResponseFlag) != 0;

    /// <summary>The question section.</summary>
    public IReadOnlyList<DnsQuestion> Questions { get; init; } = [];

    /// <summary>The answer section.</summary>
    public IReadOnlyList<DnsRecord> Answers { get; init; } = [];

    /// <summary>The authority section (mDNS probes carry their proposed records here).</summary>
    public IReadOnlyList<DnsRecord> Authorities { get; init; } = [];

    /// <summary>The additional section.</summary>
    public IReadOnlyList<DnsRecord> Additionals { get; init; } = [];

    /// <summary>Answers, authorities and additionals in order.</summary>
    public IEnumerable<DnsRecord> AllRecords() => Answers.Concat(Authorities).Concat(Additionals);
}
