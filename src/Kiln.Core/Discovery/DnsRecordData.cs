namespace Kiln.Core.Discovery;

/// <summary>The RDATA of a resource record, decoded by type.</summary>
public abstract record DnsRecordData;
