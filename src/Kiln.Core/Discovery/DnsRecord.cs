namespace Kiln.Core.Discovery;

/// <summary>
/// One resource record. <see cref="CacheFlush"/> is the mDNS cache-flush bit, the top bit of the
/// class field (RFC 6762 §10.2), set on records whose name this responder owns alone.
/// </summary>
public sealed record DnsRecord(string Name, DnsRecordType Type, uint Ttl, DnsRecordData Data, bool CacheFlush = false, ushort Class = DnsQuestion.ClassInternet);
