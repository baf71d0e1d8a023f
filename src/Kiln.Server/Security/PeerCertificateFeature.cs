namespace Kiln.Server.Security;

/// <summary>Connection feature set by the Kiln listener's TLS layer: the client certificate's fingerprint, or null when it sent none.</summary>
public sealed record PeerCertificateFeature(string? Fingerprint);
