namespace Kiln.Core.Discovery;

/// <summary>SRV RDATA (RFC 2782): where an instance listens.</summary>
public sealed record SrvData(ushort Priority, ushort Weight, ushort Port, string Target) : DnsRecordData;
