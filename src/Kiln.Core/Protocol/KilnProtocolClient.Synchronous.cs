using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hosts;

namespace Kiln.Core.Protocol;

/// <summary>
/// The synchronous way for a short-lived client (<c>kiln cc</c>, one compile per process), on plaintext
/// connections: connect without blocking while the preprocessor runs, then send the job and read the
/// reply with blocking calls on the calling thread, as distcc's client does. The asynchronous way
/// costs such a process the socket engine's thread, thread-pool workers and a timer thread, each
/// started for this one compile, and a wake-up of each on the reply's way back (perf trace: about
/// 0.4 ms from the node's send to the client's read). A reply slower than
/// <see cref="KilnClientOptions.SynchronousReplyWait"/> is awaited asynchronously, so a caller can
/// still race it against a local compile.
/// </summary>
public sealed partial class KilnProtocolClient
{
    /// <summary>Connects begun by <see cref="Prepare"/> on the synchronous way, with when they must have finished.</summary>
    private readonly Dictionary<string, (RawTcpSocket Socket, long Deadline)> _connecting = new(StringComparer.Ordinal);

    private bool Synchronous(HostSpec host) =>
        _options.SynchronousReplyWait > TimeSpan.Zero && (host.Plaintext || LocalSocket(host) is not null || AgentRoute(host) is not null);

    /// <summary>
    /// Begins a connect to <paramref name="host"/> without waiting for it (the socket is non-blocking
    /// until the job needs it). Returns why it cannot be begun (no such host, refused at once), or null.
    /// </summary>
    private SocketException? BeginConnect(HostSpec host)
    {
        // The first call for a node that goes by a Unix socket connects, to decide; that connect waits
        // in _connecting for the job.
        if (LocalSocket(host) is { } local)
        {
            return IsConnecting(host) ? null : BeginLocalConnect(host, local);
        }

        if (!host.Plaintext && AgentRoute(host) is { } line)
        {
            return IsConnecting(host) ? null : BeginAgentConnect(host, line);
        }

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host.Host, out var address) ? [address] : Dns.GetHostAddresses(host.Host);
        }
        catch (SocketException e)
        {
            return e;
        }

        if (addresses.Length == 0)
        {
            return new SocketException((int)SocketError.HostNotFound);
        }

        RawTcpSocket socket;
        try
        {
            // Under way when this returns: finished (or failed) by the time the job needs it.
            socket = RawTcpSocket.BeginConnect(addresses[0], host.EffectivePort);
        }
        catch (SocketException e)
        {
            return e;
        }

        AddConnecting(host, socket);
        return null;
    }

    /// <summary>True when a connect to <paramref name="host"/> waits for the job.</summary>
    private bool IsConnecting(HostSpec host)
    {
        lock (_idleLock)
        {
            return _connecting.ContainsKey(host.Display);
        }
    }

    /// <summary>Keeps a connect under way to <paramref name="host"/> for the job, with the connect timeout's deadline.</summary>
    private void AddConnecting(HostSpec host, RawTcpSocket socket)
    {
        lock (_idleLock)
        {
            _connecting[host.Display] = (socket, Environment.TickCount64 + (long)_options.ConnectTimeout.TotalMilliseconds);
        }
    }

    /// <summary>
    /// A connection to <paramref name="host"/> for the synchronous way: the one <see cref="Prepare"/>
    /// began, else a new one, made within the connect timeout. Throws <see cref="SocketException"/>
    /// (with <see cref="SocketError.TimedOut"/> for the timeout) when there is none to be had.
    /// </summary>
    private KilnClientConnection ConnectSynchronously(HostSpec host)
    {
        (RawTcpSocket Socket, long Deadline) begun;
        lock (_idleLock)
        {
            _connecting.Remove(host.Display, out begun);
        }

        if (begun.Socket is null)
        {
            if (BeginConnect(host) is { } failed)
            {
                throw failed;
            }

            lock (_idleLock)
            {
                _connecting.Remove(host.Display, out begun);
            }
        }

        var socket = begun.Socket;
        try
        {
            socket.FinishConnect(begun.Deadline);
            socket.Timeout = _options.IoTimeout;
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Interlocked.Increment(ref _connectionsOpened);
        PhaseTrace.Mark("cc", "connected");
        return new KilnClientConnection(socket) { ViaAgent = ThroughAgent(host) };
    }

    /// <summary>
    /// <see cref="ShakeHandsAsync"/> on the synchronous way: the connect (begun by <see cref="Prepare"/>
    /// when the caller met several nodes at once), HELLO, and WELCOME within the connect timeout.
    /// </summary>
    private (KilnWelcome? Welcome, string? Unreachable) ShakeHandsSynchronously(HostSpec host)
    {
        KilnClientConnection connection;
        try
        {
            connection = ConnectSynchronously(host);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return (null, $"no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return (null, $"cannot connect: {e.Message}");
        }

        try
        {
            var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName);
            var frame = new byte[hello.FrameLength];
            hello.WriteFrame(frame);
            connection.SendBlocking([frame]);
            var deadline = Stopwatch.GetTimestamp() + (long)(_options.ConnectTimeout.TotalSeconds * Stopwatch.Frequency);
            if (!WaitReadable(connection, deadline, CancellationToken.None) || ReadWelcome(connection, host.Display) is not null || connection.Welcome is not { } welcome)
            {
                connection.Dispose();
                return (null, null);
            }

            ReturnIdle(host.Display, connection);
            return (welcome, null);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            connection.Dispose();
            return (null, null);
        }
    }

    /// <summary>
    /// One job on the synchronous way: HELLO (on a new connection), JOB and INPUT in one blocking send,
    /// then the reply read here when it comes within <see cref="KilnClientOptions.SynchronousReplyWait"/>,
    /// else awaited. The connection goes back to the pool when it stays usable.
    /// </summary>
    private Task<KilnClientReply> ExchangeSynchronouslyAsync(KilnClientConnection connection, string node, KilnJob job, ReadOnlyMemory<byte> input,
        Action? whileCompiling, CancellationToken cancellationToken) =>
        ExchangeSynchronouslyAsync(connection, node, hello => JobFrames(hello, job, input), cancellationToken, whileCompiling);

    /// <summary>
    /// The exchange of a job whose frames <paramref name="frames"/> gives (HELLO first when told so), answered
    /// as a JOB is; <paramref name="whileCompiling"/> runs once they are sent (RemoteCompileRequest.WhileCompiling).
    /// </summary>
    private async Task<KilnClientReply> ExchangeSynchronouslyAsync(KilnClientConnection connection, string node, Func<bool, IReadOnlyList<ArraySegment<byte>>> frames,
        CancellationToken cancellationToken, Action? whileCompiling = null)
    {
        var hello = connection.Welcome is null;
        connection.BlockingTimeout(_options.IoTimeout);

        string? sendFailure = null;
        try
        {
            connection.SendBlocking(frames(hello));

            PhaseTrace.Mark("cc", "sent");
            whileCompiling?.Invoke();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // The node may have said why before it closed (an ERROR); that is read below.
            sendFailure = e.Message;
        }

        // WELCOME comes at once, the reply when the compile is done: each is read here only once it is
        // there, so a compile slower than the wait goes on asynchronously and the caller can race it.
        var wait = _options.SynchronousReplyWait < _options.IoTimeout ? _options.SynchronousReplyWait : _options.IoTimeout;
        var deadline = Stopwatch.GetTimestamp() + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        KilnClientReply? early = null;
        var welcomed = false;
        if (hello && WaitReadable(connection, deadline, cancellationToken))
        {
            early = ReadWelcome(connection, node);
            hello = false;
            welcomed = true;
        }

        KilnClientReply reply;
        if (early is { } ended)
        {
            reply = ended;
        }
        else if (!hello && WaitReadable(connection, deadline, cancellationToken))
        {
            reply = ReadReply(connection, nothingYet: !welcomed);
        }
        else if (wait == _options.IoTimeout)
        {
            reply = KilnClientReply.Failed($"no reply within {_options.IoTimeout.TotalSeconds:0.#} s");
        }
        else
        {
            using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            io.CancelAfter(_options.IoTimeout - wait);
            using var abort = io.Token.UnsafeRegister(static c => ((KilnClientConnection)c!).Dispose(), connection);
            try
            {
                reply = await ReadReplyAsync(connection, node, hello, io).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                reply = KilnClientReply.Failed($"no reply within {_options.IoTimeout.TotalSeconds:0.#} s");
            }
            catch (OperationCanceledException)
            {
                connection.Dispose();
                throw;
            }
        }

        if (sendFailure is not null && reply.Failure is not null)
        {
            reply = reply with { Failure = $"sending the job failed: {sendFailure}" };
        }

        if (connection.ViaAgent && reply.NothingReceived)
        {
            // The agent died or stopped, not the node: no backoff for the node, and this process goes by
            // TLS itself from now on (the next one starts a new agent).
            ForgetAgentRoute(node);
            reply = new KilnClientReply(null, "the kiln agent closed the connection before the node answered", null, null, true);
        }

        if (sendFailure is null && reply.KeepsConnection)
        {
            ReturnIdle(node, connection);
        }
        else
        {
            connection.Dispose();
        }

        return reply;
    }

    /// <summary>Waits until <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp) for bytes (or the end) on <paramref name="connection"/>, a tenth of a second at a time so a cancellation is seen.</summary>
    private static bool WaitReadable(KilnClientConnection connection, long deadline, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (connection.PollReadable(left < TimeSpan.FromMilliseconds(100) ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : TimeSpan.FromMilliseconds(100)))
                {
                    return true;
                }

                if (left <= TimeSpan.FromMilliseconds(100))
                {
                    return false;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // A broken socket reads as readable: the read reports it.
            return true;
        }
    }

    /// <summary>Reads the WELCOME a new connection's HELLO was answered with: null when the job goes on, else the reply that ends it.</summary>
    private KilnClientReply? ReadWelcome(KilnClientConnection connection, string node) =>
        ReadAnswer(connection, nothingYet: true, (type, _, payload) => AcceptWelcome(connection, node, type, payload));

    /// <summary>
    /// Reads the job's reply with blocking reads. Network failures become failed replies, marked as
    /// nothing received when <paramref name="nothingYet"/> (no WELCOME came on this exchange either).
    /// </summary>
    private static KilnClientReply ReadReply(KilnClientConnection connection, bool nothingYet) =>
        ReadAnswer(connection, nothingYet, (type, flags, payload) => ReplyOf(type, flags, payload))!.Value;

    /// <summary>One frame read with blocking reads and given to <paramref name="take"/>; a network failure or a malformed frame becomes a failed reply.</summary>
    private static KilnClientReply? ReadAnswer(KilnClientConnection connection, bool nothingYet,
        Func<KilnFrameType, KilnFrameFlags, ReadOnlyMemory<byte>, KilnClientReply?> take)
    {
        try
        {
            var (type, flags, payload) = ReadFrame(connection);
            return take(type, flags, payload);
        }
        catch (EndOfStreamException)
        {
            return KilnClientReply.Failed("the node closed the connection without a reply", nothingReceived: nothingYet);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return KilnClientReply.Failed($"connection lost: {e.Message}", nothingReceived: nothingYet);
        }
        catch (KilnProtocolViolation e)
        {
            return KilnClientReply.Failed($"protocol error: {e.Message}");
        }
    }

    private static (KilnFrameType Type, KilnFrameFlags Flags, ReadOnlyMemory<byte> Payload) ReadFrame(KilnClientConnection connection)
    {
        connection.Stream.ReadExactly(connection.Header);
        if (!KilnFrameHeader.TryRead(connection.Header, MaxServerPayload, out var header, out var error))
        {
            throw new KilnProtocolViolation(error.Message);
        }

        if (header.Length == 0)
        {
            return (header.Type, header.Flags, ReadOnlyMemory<byte>.Empty);
        }

        var payload = new byte[header.Length];
        connection.Stream.ReadExactly(payload);
        return (header.Type, header.Flags, payload);
    }

    /// <summary>
    /// HELLO (when <paramref name="hello"/>), JOB (unless null: sent ahead already) and every INPUT
    /// frame, as buffers for one gathered send; the input is sent from where it lies.
    /// </summary>
    private List<ArraySegment<byte>> JobFrames(bool hello, KilnJob? job, ReadOnlyMemory<byte> input)
    {
        var chunkSize = Math.Clamp(_options.ChunkSize, 1, KilnProtocol.MaxInputChunk);
        var chunks = input.Length == 0 ? 1 : (input.Length + chunkSize - 1) / chunkSize;
        var helloFrame = hello ? new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName) : null;
        var control = new byte[(helloFrame?.FrameLength ?? 0) + (job?.FrameLength ?? 0) + (chunks * KilnFrameHeader.Size)];
        var position = helloFrame?.WriteFrame(control) ?? 0;
        position += job?.WriteFrame(control.AsSpan(position)) ?? 0;
        var body = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(input, out var segment) ? segment : new ArraySegment<byte>(input.ToArray());
        var frames = new List<ArraySegment<byte>>((2 * chunks) + 1);
        if (position > 0)
        {
            frames.Add(new(control, 0, position));
        }

        for (var i = 0; i < chunks; i++)
        {
            var offset = i * chunkSize;
            var length = Math.Min(chunkSize, input.Length - offset);
            new KilnFrameHeader(KilnFrameType.Input, i == chunks - 1 ? KilnFrameFlags.Last : KilnFrameFlags.None, length).Write(control.AsSpan(position));
            frames.Add(new ArraySegment<byte>(control, position, KilnFrameHeader.Size));
            position += KilnFrameHeader.Size;
            if (length > 0)
            {
                frames.Add(new ArraySegment<byte>(body.Array!, body.Offset + offset, length));
            }
        }

        return frames;
    }
}
