namespace Kiln.Server.Trust;

/// <summary>One refused attestation of a submission: its position, the reason (a counter's name) and a sentence.</summary>
public sealed record AttestationRefusal(int Index, string Reason, string Message);
