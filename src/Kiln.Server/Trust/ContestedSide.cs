namespace Kiln.Server.Trust;

/// <summary>One result of a contested action, with every attestation for it.</summary>
public sealed record ContestedSide(string Result, long ResultSize, List<AttestationView> Signers);
