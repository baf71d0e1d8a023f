using System.Net;

namespace Kiln.Core.Discovery;

/// <summary>A or AAAA RDATA.</summary>
public sealed record AddressData(IPAddress Address) : DnsRecordData;
