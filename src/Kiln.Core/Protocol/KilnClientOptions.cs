using Kiln.Core.Hosts;

namespace Kiln.Core.Protocol;

/// <summary>How <see cref="KilnProtocolClient"/> talks to nodes.</summary>
public sealed record KilnClientOptions
{
    /// <summary>Longest wait for a TCP connection: 4 s, distcc's hard-coded connect timeout.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// Longest a job's exchange may take once connected, the node's compile included: 300 s, as
    /// distcc's default <c>DISTCC_IO_TIMEOUT</c> (no bytes flow while a node compiles, so a per-read
    /// timeout bounds the same thing).
    /// </summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The identity token sent in HELLO (<c>KILN_TOKEN</c>); empty when none.</summary>
    public string Token { get; init; } = "";

    /// <summary>The client's name in the node's logs.</summary>
    public string ClientName { get; init; } = "kiln";

    /// <summary>Bytes of input per INPUT frame (at most <see cref="KilnProtocol.MaxInputChunk"/>).</summary>
    public int ChunkSize { get; init; } = KilnProtocol.MaxInputChunk;

    /// <summary>
    /// Bytes of INPUT handed to the socket in one write. Between writes the client checks whether the
    /// node answered early and stops sending if so.
    /// </summary>
    public int WriteGroupBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Where node certificates seen before are kept (<c>KILN_DIR/known_hosts</c>). A node without a
    /// <c>,fp=</c> pin is checked against it, and recorded in it when met for the first time. Null
    /// means only pinned nodes are reached over TLS.
    /// </summary>
    public Security.KnownHosts? KnownHosts { get; init; }

    /// <summary>Told, once per node, when a certificate is trusted on first use (the CLI writes it to stderr).</summary>
    public Action<string>? Notice { get; init; }

    /// <summary>The client certificate offered in the TLS handshake (the node maps its fingerprint to a role), or null.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// A PKCS#12 file (no password) holding the client certificate, loaded at the first TLS handshake
    /// of the process, when <see cref="ClientCertificate"/> is null. A compile that goes through a local
    /// socket or the agent never loads it; the agent is told the file and offers it itself.
    /// </summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>
    /// The per-user agent (Kiln.Core.Agent) that holds TLS connections to nodes for short-lived clients,
    /// or null. With <see cref="SynchronousReplyWait"/> set, a TLS node whose fingerprint is known (a
    /// <c>,fp=</c> pin or a known-hosts entry) is reached through the agent's Unix socket: the client
    /// neither loads TLS nor waits for a handshake (KilnProtocolClient.Agent.cs).
    /// </summary>
    public KilnAgentRoute? Agent { get; init; }

    /// <summary>
    /// Keep the system's CA bundle out of this process's TLS handshakes (Linux). .NET builds a chain for
    /// every server certificate and, to do so, parses every CA certificate the system has: about 100 ms
    /// of CPU with OpenSSL 3, paid by each short-lived <c>kiln cc</c>. Nodes are trusted by fingerprint
    /// only, so the bundle is never needed: with this set, the first handshake in the process sees
    /// <c>SSL_CERT_FILE</c>/<c>SSL_CERT_DIR</c> pointing at nothing; they are put back after it.
    /// Off for long-lived processes that may also speak HTTPS to CA-signed servers.
    /// </summary>
    public bool SkipSystemCaBundle { get; init; }

    /// <summary>
    /// On plaintext connections, how long a job's reply is waited for with blocking calls on the calling
    /// thread before it is awaited (KilnProtocolClient.Synchronous.cs); zero, the default, never blocks.
    /// For a process that runs one compile (<c>kiln cc</c>): no socket-engine or pool threads start for it.
    /// </summary>
    public TimeSpan SynchronousReplyWait { get; init; }

    /// <summary>
    /// What this client last learned of a node's local socket (its WELCOME's <c>local=</c> attribute,
    /// kept with the node's facts), or null. With <see cref="SynchronousReplyWait"/> set, a loopback
    /// node that has one is reached through it: no TCP, no TLS (KilnProtocolClient.Local.cs). One that
    /// cannot be connected to (the node stopped, or another user's client) costs a failed connect, and
    /// the compile goes by TCP.
    /// </summary>
    public Func<HostSpec, KilnLocalSocket?>? LocalSocket { get; init; }

    /// <summary>Idle connections kept per node for reuse.</summary>
    public int MaxIdleConnectionsPerNode { get; init; } = 4;
}

/// <summary>Where the agent listens, and how to start it when nothing does.</summary>
/// <param name="SocketPath">The agent's Unix socket.</param>
/// <param name="Start">Starts an agent in the background, at most once per client; the compile that found none goes on without it.</param>
public sealed record KilnAgentRoute(string SocketPath, Action? Start);
