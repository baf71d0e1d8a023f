namespace Kiln.Server.Trust;

/// <summary><c>GET /api/attestations/contested</c>.</summary>
public sealed record ContestedReport(List<ContestedAction> Contested);
