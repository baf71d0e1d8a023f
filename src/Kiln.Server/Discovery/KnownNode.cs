namespace Kiln.Server.Discovery;

/// <summary>
/// One node in <c>GET /api/nodes</c>: where its Kiln protocol listens, how this node knows it
/// (<c>self</c> or <c>zeroconf</c>), and its <c>_kiln._tcp</c> TXT attributes.
/// </summary>
public sealed record KnownNode(string Name, string Address, int Port, string Source, IReadOnlyDictionary<string, string> Attributes);
