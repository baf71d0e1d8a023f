namespace Kiln.Core.Discovery;

/// <summary>
/// NSEC RDATA (RFC 4034 §4), as mDNS uses it: the next name is the record's own name and the type
/// bitmap lists the types that exist for it (RFC 6762 §6.1).
/// </summary>
public sealed record NsecData(string NextName, IReadOnlyList<DnsRecordType> Types) : DnsRecordData
{
    /// <inheritdoc />
    public bool Equals(NsecData? other) =>
        other is not null && DnsName.Equal(NextName, other.NextName) && Types.SequenceEqual(other.Types);

    /// <inheritdoc />
    public override int GetHashCode() => Types.Count;
}
