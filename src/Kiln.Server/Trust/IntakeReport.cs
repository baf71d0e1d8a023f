namespace Kiln.Server.Trust;

/// <summary>The answer to <c>POST /api/attestations</c>.</summary>
public sealed record IntakeReport(int Added, int Duplicate, List<AttestationRefusal> Rejected);
