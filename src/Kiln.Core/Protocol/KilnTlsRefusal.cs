namespace Kiln.Core.Protocol;

/// <summary>The TLS handshake with a node failed or its certificate is not the one pinned; the message says which.</summary>
internal sealed class KilnTlsRefusal(string message) : Exception(message);
