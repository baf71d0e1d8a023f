using Kiln.Core.Diagnostics;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Core.Protocol;

/// <summary>
/// JOB ahead of its input (docs/protocol.md, "JOB ahead"), on the synchronous way: the job goes out
/// when the caller knows the compile but has not preprocessed it yet, so the node starts the compiler
/// while the preprocessor runs here; the input follows on the same connection.
/// </summary>
public sealed partial class KilnProtocolClient
{
    /// <summary>Jobs sent ahead of their input, by node: the connection carrying each, and whether it was a reused one.</summary>
    private readonly Dictionary<string, (KilnClientConnection Connection, bool Reused)> _sentAhead = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public bool SendAhead(HostSpec host, RemoteCompileRequest job)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln || !Synchronous(host))
        {
            return false;
        }

        var node = host.Display;
        var ahead = new KilnJob
        {
            Ahead = true,
            InputSize = 0,
            Language = job.Language,
            Compiler = job.Compiler,
            Arguments = job.Arguments,
            SourceName = job.SourceName,
            WorkingDirectory = job.WorkingDirectory,
            Locale = job.Locale,
        };
        lock (_idleLock)
        {
            if (_sentAhead.ContainsKey(node))
            {
                return false;
            }
        }

        if (ahead.Validate() is not null)
        {
            return false;
        }

        var pooled = TakeIdle(node);
        if (pooled is null && !ConnectsAtOnce(host))
        {
            // A node a round trip away: waiting for the connect would hold the preprocessor back by more
            // than the JOB ahead saves; the connect goes on, and the job is sent whole after it.
            return false;
        }

        KilnClientConnection connection;
        try
        {
            connection = pooled ?? ConnectSynchronously(host);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Reported when the job itself connects.
            return false;
        }

        try
        {
            connection.BlockingTimeout(_options.IoTimeout);
            var hello = connection.Welcome is null
                ? new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName)
                : null;
            var frames = new byte[(hello?.FrameLength ?? 0) + ahead.FrameLength];
            var position = hello?.WriteFrame(frames) ?? 0;
            ahead.WriteFrame(frames.AsSpan(position));
            connection.SendBlocking([frames]);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
        {
            connection.Dispose();
            return false;
        }

        lock (_idleLock)
        {
            _sentAhead[node] = (connection, pooled is not null);
        }

        PhaseTrace.Mark("cc", "sent-ahead");
        return true;
    }

    /// <summary>How long a JOB ahead waits for its connect: a loopback, Unix-socket or LAN connect ends sooner.</summary>
    private static readonly TimeSpan s_aheadConnectPatience = TimeSpan.FromMilliseconds(1);

    /// <summary>True when the connect to <paramref name="host"/> (begun now unless under way) ends within <see cref="s_aheadConnectPatience"/>.</summary>
    private bool ConnectsAtOnce(HostSpec host)
    {
        if (!IsConnecting(host) && BeginConnect(host) is not null)
        {
            // Cannot be begun (no such host, refused at once): the job reports it.
            return false;
        }

        RawTcpSocket? socket;
        lock (_idleLock)
        {
            socket = _connecting.TryGetValue(host.Display, out var begun) ? begun.Socket : null;
        }

        return socket is not null && socket.ConnectEndsWithin(s_aheadConnectPatience);
    }

    /// <inheritdoc/>
    public void Abandon(HostSpec host)
    {
        if (TakeSentAhead(host.Display) is not { } sent)
        {
            return;
        }

        // One empty INPUT flagged LAST and ABANDON ends the job; the node answers nothing for it. What it
        // may have sent already (WELCOME, an early refusal) is unread, so the connection is not kept.
        var frame = new byte[KilnFrameHeader.Size];
        new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.Last | KilnFrameFlags.Abandon, 0).Write(frame);
        try
        {
            sent.Connection.SendBlocking([frame]);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
        {
        }

        sent.Connection.Dispose();
    }

    private (KilnClientConnection Connection, bool Reused)? TakeSentAhead(string node)
    {
        lock (_idleLock)
        {
            return _sentAhead.Remove(node, out var sent) ? sent : null;
        }
    }

    /// <summary>
    /// The input of the job sent ahead to <paramref name="host"/>, and its reply. A reused connection
    /// that yields nothing (the node had closed it) is retried once as a whole job on a new one.
    /// </summary>
    private async Task<RemoteCompileReply?> CompileAheadAsync(HostSpec host, string node, KilnJob job, ReadOnlyMemory<byte> input, Action? whileCompiling,
        CancellationToken cancellationToken)
    {
        if (TakeSentAhead(node) is not { } sent)
        {
            return null;
        }

        var reply = await ExchangeSynchronouslyAsync(sent.Connection, node, _ => JobFrames(false, null, input), cancellationToken, whileCompiling).ConfigureAwait(false);
        if (sent.Reused && reply.NothingReceived)
        {
            return await CompileSynchronouslyAsync(host, node, job, input, whileCompiling, cancellationToken, reuse: false).ConfigureAwait(false);
        }

        return ToReply(node, reply);
    }
}
