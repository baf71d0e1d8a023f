namespace Kiln.Core.Distcc;

/// <summary>
/// A peer broke the distcc protocol (wrong token, garbage, a length over the cap, a truncated
/// stream, a corrupt LZO body). Thrown deep inside a request's reads and caught once at the
/// connection's boundary, where it becomes a counted, logged, closed connection (server) or a
/// failed reply naming the host (client); it never escapes either.
/// </summary>
public sealed class DistccProtocolException(string message) : Exception(message);
