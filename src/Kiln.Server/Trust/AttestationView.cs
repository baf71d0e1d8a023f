namespace Kiln.Server.Trust;

/// <summary>One attestation as the API shows it: its fields, the owner the node knows its key by, and the signed wire form (base64).</summary>
public sealed record AttestationView(string Action, string Result, long ResultSize, string KeyId, string? Owner, string How, DateTimeOffset Time, string Encoded);
