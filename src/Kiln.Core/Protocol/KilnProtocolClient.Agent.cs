using System.Net.Sockets;
using Kiln.Core.Agent;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hosts;

namespace Kiln.Core.Protocol;

/// <summary>
/// A TLS node reached through the per-user agent (Kiln.Core.Agent, <c>kiln agent</c>). A short-lived
/// client pays about 9 ms for TLS on every compile: loading and starting OpenSSL, and the handshake
/// (docs/benchmarks.md). The agent is a process of the same user that has both done already: it keeps
/// handshaken connections to the nodes in use, and splices a client's Unix connection onto one. The
/// client says which node and which certificate fingerprint to expect in one line, then speaks the Kiln
/// protocol as to a plaintext node, on the synchronous way; HELLO and the job follow the line without
/// waiting. Only nodes whose fingerprint is known go through the agent: the first contact with a node
/// is the client's own, so that trust on first use is recorded and said where the user sees it.
/// </summary>
public sealed partial class KilnProtocolClient
{
    /// <summary>Per node: the request its agent connections open with when the agent took the first one, else null.</summary>
    private readonly Dictionary<string, byte[]?> _agentRoutes = new(StringComparer.Ordinal);
    private bool _agentStarted;

    /// <summary>
    /// The line that opens <paramref name="host"/>'s connections through the agent, or null when it is
    /// not reached that way. Decided once per process: the first call connects to the agent (the
    /// connection then waits in <c>_connecting</c> for the job); when no agent answers, one is started
    /// for the compiles to come and this one goes by TCP and TLS itself.
    /// </summary>
    private byte[]? AgentRoute(HostSpec host)
    {
        if (_options.Agent is null || _options.SynchronousReplyWait <= TimeSpan.Zero || host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln
            || host.Plaintext || (_options.ClientCertificate is not null && _options.ClientCertificateFile is null))
        {
            return null;
        }

        lock (_idleLock)
        {
            if (_agentRoutes.TryGetValue(host.Display, out var decided))
            {
                return decided;
            }
        }

        var fingerprint = host.Fingerprint ?? _options.KnownHosts?.Lookup(host.Display);
        var line = fingerprint is null ? null : new KilnAgentRequest(host.Host, host.EffectivePort, fingerprint, _options.ClientCertificateFile).ToLine();
        if (line is not null && BeginAgentConnect(host, line) is not null)
        {
            line = null;
        }

        lock (_idleLock)
        {
            _agentRoutes[host.Display] = line;
        }

        return line;
    }

    /// <summary>Connects to the agent and sends <paramref name="line"/>; the connection waits in <c>_connecting</c> for the job. Returns why it failed, or null.</summary>
    private SocketException? BeginAgentConnect(HostSpec host, byte[] line)
    {
        RawTcpSocket socket;
        try
        {
            socket = RawTcpSocket.ConnectUnix(_options.Agent!.SocketPath);
        }
        catch (SocketException e)
        {
            if (e.SocketErrorCode != SocketError.TryAgain)
            {
                StartAgent();
            }

            return e;
        }

        try
        {
            // The agent runs as this user; a socket someone else bound in its place is not used.
            if (socket.PeerUserId() != UnixPeerCredentials.EffectiveUserId())
            {
                throw new SocketException((int)SocketError.AccessDenied);
            }

            socket.Send(line);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return e;
        }

        AddConnecting(host, socket);
        PhaseTrace.Mark("cc", "agent");
        return null;
    }

    /// <summary>True when connections to <paramref name="host"/> go through the agent (a local socket comes first).</summary>
    private bool ThroughAgent(HostSpec host) => !host.Plaintext && LocalSocket(host) is null && AgentRoute(host) is not null;

    /// <summary>Sends <paramref name="node"/>'s later connections in this process by TCP and TLS.</summary>
    private void ForgetAgentRoute(string node)
    {
        lock (_idleLock)
        {
            _agentRoutes[node] = null;
        }
    }

    private void StartAgent()
    {
        lock (_idleLock)
        {
            if (_agentStarted)
            {
                return;
            }

            _agentStarted = true;
        }

        _options.Agent!.Start?.Invoke();
    }
}
