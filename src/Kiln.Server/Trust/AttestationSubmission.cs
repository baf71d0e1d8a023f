namespace Kiln.Server.Trust;

/// <summary>The body of <c>POST /api/attestations</c>: attestations in wire form, base64.</summary>
public sealed record AttestationSubmission(List<string> Attestations);
