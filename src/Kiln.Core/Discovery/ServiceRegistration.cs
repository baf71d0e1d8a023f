namespace Kiln.Core.Discovery;

/// <summary>
/// One DNS-SD service instance this host announces: <c>Instance._type._tcp.local</c> with an SRV
/// to <see cref="HostName"/>:<see cref="Port"/>, a TXT record, the type's PTR, any subtype PTRs,
/// and the service enumeration PTR (RFC 6763 §4, §7.1, §9).
/// </summary>
public sealed record ServiceRegistration(string Instance, string ServiceType, string HostName, ushort Port, IReadOnlyList<KeyValuePair<string, string>> Attributes)
{
    /// <summary>TTL of records naming a host (SRV, A): RFC 6762 §10 recommends 120 s.</summary>
    public const uint HostRecordTtl = 120;

    /// <summary>TTL of the other records (PTR, TXT): RFC 6762 §10 recommends 75 minutes.</summary>
    public const uint OtherRecordTtl = 4500;

    /// <summary>Subtype names (<c>_x._sub._type._tcp.local</c>) that also point at the instance.</summary>
    public IReadOnlyList<string> Subtypes { get; init; } = [];

    /// <summary>The full instance name.</summary>
    public string FullName => DnsName.Join(Instance, ServiceType);

    /// <summary>The shared PTR records: type, subtypes and the service enumeration.</summary>
    public IEnumerable<DnsRecord> PointerRecords()
    {
        yield return new DnsRecord(ServiceType, DnsRecordType.Ptr, OtherRecordTtl, new PtrData(FullName));
        foreach (var subtype in Subtypes)
        {
            yield return new DnsRecord(subtype, DnsRecordType.Ptr, OtherRecordTtl, new PtrData(FullName));
        }

        yield return new DnsRecord(MulticastDns.ServicesName, DnsRecordType.Ptr, OtherRecordTtl, new PtrData(ServiceType));
    }

    /// <summary>The unique SRV and TXT records of the instance (cache-flush set).</summary>
    public IEnumerable<DnsRecord> InstanceRecords()
    {
        yield return new DnsRecord(FullName, DnsRecordType.Srv, HostRecordTtl, new SrvData(0, 0, Port, HostName), CacheFlush: true);
        yield return new DnsRecord(FullName, DnsRecordType.Txt, OtherRecordTtl, TxtData.FromAttributes(Attributes), CacheFlush: true);
    }
}
