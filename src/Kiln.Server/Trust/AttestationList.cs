namespace Kiln.Server.Trust;

/// <summary><c>GET /api/attestations/ACTION</c>: what the node knows about one action.</summary>
public sealed record AttestationList(string Action, bool Contested, List<AttestationView> Attestations);
