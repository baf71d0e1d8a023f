namespace Kiln.Core.Discovery;

/// <summary>PTR RDATA: the name pointed to.</summary>
public sealed record PtrData(string Target) : DnsRecordData;
