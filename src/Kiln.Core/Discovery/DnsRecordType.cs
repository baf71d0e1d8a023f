namespace Kiln.Core.Discovery;

/// <summary>The DNS record types DNS-SD over multicast DNS uses (RFC 1035, 2782, 3596, 4034, 6763).</summary>
public enum DnsRecordType : ushort
{
    /// <summary>IPv4 address.</summary>
    A = 1,

    /// <summary>Pointer: service type to instance, and DNS-SD service enumeration.</summary>
    Ptr = 12,

    /// <summary>Text strings: the DNS-SD key=value attributes.</summary>
    Txt = 16,

    /// <summary>IPv6 address.</summary>
    Aaaa = 28,

    /// <summary>Service location: priority, weight, port, target host.</summary>
    Srv = 33,

    /// <summary>Next secure: in mDNS, the negative answer "this name has only these types" (RFC 6762 §6.1).</summary>
    Nsec = 47,

    /// <summary>Any type (questions only).</summary>
    Any = 255,
}
