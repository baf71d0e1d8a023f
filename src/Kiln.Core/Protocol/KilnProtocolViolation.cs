namespace Kiln.Core.Protocol;

/// <summary>Thrown inside the client's frame reader when a node's frame header is invalid; caught and turned into a failed reply.</summary>
internal sealed class KilnProtocolViolation(string message) : Exception(message);
