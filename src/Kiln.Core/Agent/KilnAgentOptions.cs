namespace Kiln.Core.Agent;

/// <summary>How <see cref="KilnAgent"/> runs.</summary>
public sealed record KilnAgentOptions
{
    /// <summary>The Unix socket clients connect to (its directory should be the user's alone).</summary>
    public required string SocketPath { get; init; }

    /// <summary>The agent stops after this long with no client: 10 minutes, as sccache's server.</summary>
    public TimeSpan IdleExit { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long a connection made ahead (TLS done, no HELLO yet) waits in the pool for a client. A node
    /// closes a connection that sends no HELLO within its handshake timeout (10 s by default), so this
    /// stays below it.
    /// </summary>
    public TimeSpan PooledMaxAge { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// How long a connection a client left (HELLO said, SYNC answered) waits in the pool for the next
    /// one. A node closes a session idle for its idle timeout (60 s by default), so this stays below it.
    /// </summary>
    public TimeSpan ReusedMaxAge { get; init; } = TimeSpan.FromSeconds(50);

    /// <summary>Longest wait for the node's SYNC when a client left, before the connection is closed instead of kept.</summary>
    public TimeSpan SyncTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The most connections kept ready per node.</summary>
    public int MaxReadyPerNode { get; init; } = 8;

    /// <summary>Longest wait for a node's TCP connect and TLS handshake: 4 s, as <c>kiln cc</c>'s own.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest wait for a client's request line after it connected.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The file whose change stops the agent once its clients are done (its own program: an upgraded
    /// <c>kiln</c> gets a new agent), or null.
    /// </summary>
    public string? ProgramFile { get; init; }
}
