using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;

namespace Kiln.Core.Agent;

/// <summary>
/// The per-user agent (<c>kiln agent</c>, DESIGN.md, Processes): a long-lived process of the user that
/// holds TLS connections to Kiln nodes for the short-lived <c>kiln cc</c> processes. A client connects to
/// its Unix socket, names the node and the certificate fingerprint to expect in one line
/// (<see cref="KilnAgentRequest"/>), and speaks the Kiln protocol on; the agent splices that onto a TLS
/// connection to the node it had handshaken before the client came. The node sees the client's own
/// HELLO, token and jobs; the agent adds TLS and nothing else, so it cannot be told apart from the client
/// on the wire and needs no trust of its own beyond the user's.
/// <para>
/// Connections are kept per node and reused: when a client leaves between jobs, the agent sends the node
/// SYNC and, once the node answers it (everything before it answered, nothing left in flight), keeps
/// the connection for the next client, who says HELLO on it again. A connection a client left in the
/// middle of a frame, or whose SYNC does not come within <see cref="KilnAgentOptions.SyncTimeout"/>, is
/// closed. When a client takes the last ready connection, one more is made in the background, so a
/// build's parallel compiles soon find enough. Kept connections wait with a read pending on them, so a
/// node that closed one is noticed before a client is handed it, and at most
/// <see cref="KilnAgentOptions.ReusedMaxAge"/> (<see cref="KilnAgentOptions.PooledMaxAge"/> before their
/// first HELLO), under the node's timeouts.
/// </para>
/// <para>
/// Only this user's processes are served (SO_PEERCRED). The agent stops after
/// <see cref="KilnAgentOptions.IdleExit"/> without a client, when its socket is removed, when its program
/// file changes, or when cancelled; it first removes its socket (new clients then start another agent or
/// go by themselves), then serves the clients already queued, then waits for its sessions to end.
/// </para>
/// </summary>
public sealed class KilnAgent(KilnAgentOptions options, Action<string> log)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, NodePool> _pools = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (DateTime Written, X509Certificate2 Certificate)> _certificates = new(StringComparer.Ordinal);
    private readonly uint _user = UnixPeerCredentials.EffectiveUserId();
    private int _sessions;
    private long _lastClient = Environment.TickCount64;
    private long _served;
    private long _ready;
    private long _fresh;
    private long _unreachable;
    private long _kept;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    /// <summary>
    /// Clients served; how many found a connection ready; how many waited for one to be made; how many
    /// found the node unreachable; how many connections were kept for the next client when one left.
    /// </summary>
    public (long Served, long Ready, long Fresh, long Unreachable, long Kept) Counts =>
        (Interlocked.Read(ref _served), Interlocked.Read(ref _ready), Interlocked.Read(ref _fresh), Interlocked.Read(ref _unreachable), Interlocked.Read(ref _kept));

    /// <summary>Set once the socket listens.</summary>
    public Task Listening => _listening.Task;

    /// <summary>Serves until a stop condition (see the class summary); returns why it stopped. Throws <see cref="SocketException"/> when the socket cannot be bound.</summary>
    public async Task<string> RunAsync(CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(options.SocketPath));
        listener.Listen(128);
        _listening.TrySetResult();
        var program = ProgramStamp();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reason = "";
        var housekeeping = HousekeepAsync(program, stop, r => reason = r);
        try
        {
            while (true)
            {
                var client = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
                _ = ServeAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
            if (reason.Length == 0)
            {
                reason = "stopped";
            }
        }

        _stopping = true;
        await housekeeping.ConfigureAwait(false);

        // New clients find no socket from here on; those already queued are served.
        TryDelete(options.SocketPath);
        listener.Blocking = false;
        while (true)
        {
            try
            {
                _ = ServeAsync(listener.Accept());
            }
            catch (SocketException)
            {
                break;
            }
        }

        listener.Dispose();
        for (var waited = 0; Volatile.Read(ref _sessions) > 0 && waited < 6000; waited++)
        {
            await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
        }

        lock (_lock)
        {
            foreach (var pool in _pools.Values)
            {
                pool.Clear();
            }

            _pools.Clear();
        }

        return reason;
    }

    /// <summary>Once a second: expires ready connections, keeps in-use nodes warm, and looks for a reason to stop.</summary>
    private async Task HousekeepAsync((DateTime, long)? program, CancellationTokenSource stop, Action<string> stopBecause)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Expire();
            var idle = Volatile.Read(ref _sessions) == 0;
            string? reason = null;
            if (!File.Exists(options.SocketPath))
            {
                reason = $"{options.SocketPath} was removed";
            }
            else if (program is { } stamp && ProgramStamp() != stamp)
            {
                reason = $"{options.ProgramFile} changed (a new kiln was installed)";
            }
            else if (idle && Environment.TickCount64 - Volatile.Read(ref _lastClient) > options.IdleExit.TotalMilliseconds)
            {
                reason = $"no client for {options.IdleExit.TotalSeconds:0} s";
            }

            if (reason is not null)
            {
                stopBecause(reason);
                await stop.CancelAsync().ConfigureAwait(false);
                return;
            }
        }
    }

    private (DateTime, long)? ProgramStamp()
    {
        if (options.ProgramFile is null)
        {
            return null;
        }

        var file = new FileInfo(options.ProgramFile);
        return file.Exists ? (file.LastWriteTimeUtc, file.Length) : (DateTime.MinValue, -1);
    }

    /// <summary>One client: its request line, a TLS connection to the node it names, and the splice.</summary>
    private async Task ServeAsync(Socket client)
    {
        Interlocked.Increment(ref _sessions);
        Volatile.Write(ref _lastClient, Environment.TickCount64);
        NodeConnection? node = null;
        try
        {
            if (UnixPeerCredentials.Of(client.Handle) is not { } peer || peer.UserId != _user)
            {
                log($"refused a client of another user ({(UnixPeerCredentials.Of(client.Handle)?.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown")})");
                return;
            }

            var buffer = new byte[64 * 1024];
            var (request, end, filled) = await ReadRequestAsync(client, buffer).ConfigureAwait(false);
            if (request is null)
            {
                return;
            }

            Interlocked.Increment(ref _served);
            node = Take(request);
            if (node is null)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(options.ConnectTimeout);
                    node = await ConnectAsync(request, timeout.Token).ConfigureAwait(false);
                    Interlocked.Increment(ref _fresh);
                }
                catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or KilnTlsRefusal)
                {
                    Interlocked.Increment(ref _unreachable);
                    var why = e switch
                    {
                        OperationCanceledException => $"no connection within {options.ConnectTimeout.TotalSeconds:0.#} s",
                        KilnTlsRefusal => e.Message,
                        _ => $"cannot connect: {e.Message}",
                    };
                    await RefuseAsync(client, $"through the kiln agent: {why}").ConfigureAwait(false);
                    return;
                }
            }
            else
            {
                Interlocked.Increment(ref _ready);
            }

            var clean = await SpliceAsync(client, buffer.AsMemory(end, filled - end), node).ConfigureAwait(false);
            if (clean && Keep(request, node))
            {
                node = null;
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client or the node went away; each side sees its connection close.
        }
        finally
        {
            node?.Dispose();
            client.Dispose();
            Volatile.Write(ref _lastClient, Environment.TickCount64);
            Interlocked.Decrement(ref _sessions);
        }
    }

    /// <summary>Reads the request line; returns it with where the bytes after it start and how many were read, or a null request (said to the client when it can act on it).</summary>
    private async Task<(KilnAgentRequest? Request, int End, int Filled)> ReadRequestAsync(Socket client, byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(options.RequestTimeout);
        var filled = 0;
        while (true)
        {
            int read;
            try
            {
                read = await client.ReceiveAsync(buffer.AsMemory(filled, Math.Min(buffer.Length, KilnAgentRequest.MaxLength) - filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                log($"a client sent no request within {options.RequestTimeout.TotalSeconds:0} s");
                return (null, 0, 0);
            }

            if (read == 0)
            {
                return (null, 0, 0);
            }

            var newline = buffer.AsSpan(filled, read).IndexOf((byte)'\n');
            filled += read;
            if (newline >= 0)
            {
                var end = filled - read + newline;
                if (KilnAgentRequest.TryParse(buffer.AsSpan(0, end), out var request, out var error))
                {
                    return (request, end + 1, filled);
                }

                await RefuseAsync(client, $"the kiln agent cannot read the request: {error}").ConfigureAwait(false);
                return (null, 0, 0);
            }

            if (filled >= KilnAgentRequest.MaxLength)
            {
                await RefuseAsync(client, $"the kiln agent's request is longer than {KilnAgentRequest.MaxLength} bytes").ConfigureAwait(false);
                return (null, 0, 0);
            }
        }
    }

    /// <summary>Answers the client's HELLO with an ERROR, which it reports as the node's failure.</summary>
    private static async Task RefuseAsync(Socket client, string message)
    {
        var error = new KilnError(KilnErrorCode.NodeFailure, message);
        var frame = new byte[error.FrameLength];
        error.WriteFrame(frame);
        try
        {
            await client.SendAsync(frame, SocketFlags.None).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>
    /// Copies bytes both ways until the client or the node closes. True when the client left between
    /// frames and the node then answered SYNC: the connection is clean, and may serve the next client.
    /// </summary>
    private async Task<bool> SpliceAsync(Socket client, ReadOnlyMemory<byte> early, NodeConnection node)
    {
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var sync = new SyncState();
        var down = DownAsync(node, clientStream, sync);
        var upAtBoundary = await UpAsync(clientStream, early, node, down).ConfigureAwait(false);
        if (down.IsCompleted)
        {
            // The node closed, or broke the framing: the client reads the end, and closes in turn.
            try
            {
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }

            await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(10)), ClientGoneAsync(clientStream)).ConfigureAwait(false);
            return false;
        }

        client.Dispose();
        if (!upAtBoundary)
        {
            return false;
        }

        // The client left between frames: ask the node to answer everything before, then SYNC.
        try
        {
            var frame = new byte[KilnFrameHeader.Size + SyncState.NonceLength];
            new KilnFrameHeader(KilnFrameType.Sync, KilnFrameFlags.None, SyncState.NonceLength).Write(frame);
            sync.Nonce.CopyTo(frame, KilnFrameHeader.Size);
            Volatile.Write(ref sync.Sent, true);
            await node.Tls.WriteAsync(frame).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }

        return await Task.WhenAny(down, Task.Delay(options.SyncTimeout)).ConfigureAwait(false) == down && await down.ConfigureAwait(false);
    }

    /// <summary>Waits for the client to close its end (after the node closed).</summary>
    private static async Task ClientGoneAsync(NetworkStream client)
    {
        var buffer = new byte[4096];
        try
        {
            while (await client.ReadAsync(buffer).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Client to node, until the client closes (or the node's side ends). Returns whether the client's
    /// bytes ended between frames.
    /// </summary>
    private static async Task<bool> UpAsync(NetworkStream client, ReadOnlyMemory<byte> early, NodeConnection node, Task<bool> down)
    {
        var frames = new FrameCursor();
        try
        {
            if (!early.IsEmpty)
            {
                frames.Feed(early.Span);
                await node.Tls.WriteAsync(early).ConfigureAwait(false);
            }

            var buffer = new byte[64 * 1024];
            var reading = client.ReadAsync(buffer).AsTask();
            while (true)
            {
                if (await Task.WhenAny(reading, down).ConfigureAwait(false) == down)
                {
                    return false;
                }

                var read = await reading.ConfigureAwait(false);
                if (read == 0)
                {
                    return frames.AtBoundary;
                }

                frames.Feed(buffer.AsSpan(0, read));
                await node.Tls.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
                reading = client.ReadAsync(buffer).AsTask();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // A client killed with a reply unread resets its end: it left, at whatever point its bytes had reached.
            return e is IOException { InnerException: SocketException } && frames.AtBoundary;
        }
    }

    /// <summary>
    /// Node to client, frame by frame. Once the client is gone and SYNC was sent, nothing is forwarded;
    /// returns true when the node's SYNC with this session's nonce came, ending a frame and the bytes
    /// read; false when the node closed or the framing broke.
    /// </summary>
    private static async Task<bool> DownAsync(NodeConnection node, NetworkStream client, SyncState sync)
    {
        var frames = new FrameCursor();
        var clientGone = false;
        try
        {
            var read = node.PendingRead is { } pending ? await pending.ConfigureAwait(false) : await node.Tls.ReadAsync(node.Buffer).ConfigureAwait(false);
            node.PendingRead = null;
            while (read > 0)
            {
                var chunk = node.Buffer.AsMemory(0, read);
                frames.Feed(chunk.Span);
                if (Volatile.Read(ref sync.Sent))
                {
                    // Only frames the gone client's requests still had coming, then the SYNC, ending what was read.
                    if (frames.Broken)
                    {
                        return false;
                    }

                    if (frames.LastSync is { } echo && echo.AsSpan().SequenceEqual(sync.Nonce))
                    {
                        return frames.AtBoundary && frames.LastSyncEndedChunk;
                    }
                }
                else if (!clientGone)
                {
                    try
                    {
                        await client.WriteAsync(chunk).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException)
                    {
                        clientGone = true;
                    }
                }

                read = await node.Tls.ReadAsync(node.Buffer).ConfigureAwait(false);
            }

            return false;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    /// <summary>The SYNC a session sends when its client left: a nonce of its own, and whether it was sent.</summary>
    private sealed class SyncState
    {
        public const int NonceLength = 16;

        public byte[] Nonce { get; } = RandomNumberGenerator.GetBytes(NonceLength);

        public bool Sent;
    }

    /// <summary>
    /// Where a byte stream of Kiln frames is: inside a header, inside a payload, or between frames; and
    /// the payload of the last SYNC frame that went by. Bytes that are not Kiln frames break it for good.
    /// </summary>
    private sealed class FrameCursor
    {
        private readonly byte[] _header = new byte[KilnFrameHeader.Size];
        private int _headerFilled;
        private long _payloadLeft;
        private byte[]? _sync;
        private int _syncFilled;

        /// <summary>True between frames (never once broken).</summary>
        public bool AtBoundary => !Broken && _headerFilled == 0 && _payloadLeft == 0;

        /// <summary>True once a header was not a Kiln frame's (a type, flags or reserved bytes it does not know).</summary>
        public bool Broken { get; private set; }

        /// <summary>The payload of the last complete SYNC frame, or null.</summary>
        public byte[]? LastSync { get; private set; }

        /// <summary>True when the last complete SYNC frame ended the bytes fed last.</summary>
        public bool LastSyncEndedChunk { get; private set; }

        /// <summary>Follows <paramref name="data"/>.</summary>
        public void Feed(ReadOnlySpan<byte> data)
        {
            LastSyncEndedChunk = false;
            while (!data.IsEmpty && !Broken)
            {
                LastSyncEndedChunk = false;
                if (_payloadLeft > 0)
                {
                    var take = (int)Math.Min(_payloadLeft, data.Length);
                    if (_sync is not null)
                    {
                        data[..take].CopyTo(_sync.AsSpan(_syncFilled));
                        _syncFilled += take;
                    }

                    _payloadLeft -= take;
                    data = data[take..];
                    if (_payloadLeft == 0)
                    {
                        EndFrame();
                    }

                    continue;
                }

                var headerTake = Math.Min(KilnFrameHeader.Size - _headerFilled, data.Length);
                data[..headerTake].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += headerTake;
                data = data[headerTake..];
                if (_headerFilled < KilnFrameHeader.Size)
                {
                    return;
                }

                _headerFilled = 0;
                if (!KilnFrameHeader.TryRead(_header, _ => int.MaxValue, out var header, out _))
                {
                    Broken = true;
                    return;
                }

                _payloadLeft = header.Length;
                _sync = header.Type == KilnFrameType.Sync && header.Length <= KilnProtocol.MaxSyncPayload ? new byte[header.Length] : null;
                _syncFilled = 0;
                if (_payloadLeft == 0)
                {
                    EndFrame();
                }
            }
        }

        private void EndFrame()
        {
            if (_sync is not null)
            {
                LastSync = _sync;
                LastSyncEndedChunk = true;
                _sync = null;
            }
        }
    }

    /// <summary>Puts a clean connection back for the next client. False when the node's pool is full (the caller closes it).</summary>
    private bool Keep(KilnAgentRequest request, NodeConnection connection)
    {
        lock (_lock)
        {
            var pool = PoolOf(request);
            if (_stopping || pool.Ready.Count >= options.MaxReadyPerNode)
            {
                return false;
            }

            connection.Reused();
            connection.PendingRead = connection.Tls.ReadAsync(connection.Buffer).AsTask();
            pool.Ready.Push(connection);
        }

        Interlocked.Increment(ref _kept);
        return true;
    }

    /// <summary>
    /// A ready connection to the node <paramref name="request"/> names, or null (the caller makes one).
    /// When the pool is left empty, one more is made in the background for the next client.
    /// </summary>
    private NodeConnection? Take(KilnAgentRequest request)
    {
        NodeConnection? taken = null;
        lock (_lock)
        {
            var pool = PoolOf(request);
            while (pool.Ready.TryPop(out var ready))
            {
                if (Usable(ready))
                {
                    taken = ready;
                    break;
                }

                ready.Dispose();
            }

            if (pool.Ready.Count == 0 && pool.Connecting == 0 && !_stopping)
            {
                pool.Connecting++;
                _ = FillOneAsync(pool);
            }
        }

        return taken;
    }

    /// <summary>The pool of <paramref name="request"/>'s node, made anew when it was dropped as empty. Called under the lock.</summary>
    private NodePool PoolOf(KilnAgentRequest request)
    {
        var key = Key(request);
        if (!_pools.TryGetValue(key, out var pool))
        {
            pool = new NodePool(request);
            _pools[key] = pool;
        }

        return pool;
    }

    private bool Usable(NodeConnection connection) =>
        connection.PendingRead is { IsCompleted: false }
        && Environment.TickCount64 - connection.Since < (connection.Welcomed ? options.ReusedMaxAge : options.PooledMaxAge).TotalMilliseconds;

    /// <summary>Makes one connection for <paramref name="pool"/> in the background.</summary>
    private async Task FillOneAsync(NodePool pool)
    {
        NodeConnection? made = null;
        try
        {
            using var timeout = new CancellationTokenSource(options.ConnectTimeout);
            made = await ConnectAsync(pool.Request, timeout.Token).ConfigureAwait(false);
            made.PendingRead = made.Tls.ReadAsync(made.Buffer).AsTask();
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or KilnTlsRefusal)
        {
            // The client that comes next connects itself, and hears why if it fails again.
        }

        lock (_lock)
        {
            pool.Connecting--;
            if (made is not null)
            {
                var current = PoolOf(pool.Request);
                if (_stopping || current.Ready.Count >= options.MaxReadyPerNode)
                {
                    made.Dispose();
                }
                else
                {
                    current.Ready.Push(made);
                }
            }
        }
    }

    /// <summary>Drops ready connections that aged or that the node closed, and pools left empty.</summary>
    private void Expire()
    {
        lock (_lock)
        {
            foreach (var (key, pool) in _pools.ToArray())
            {
                var kept = new Stack<NodeConnection>();
                foreach (var connection in pool.Ready.Reverse())
                {
                    if (Usable(connection))
                    {
                        kept.Push(connection);
                    }
                    else
                    {
                        connection.Dispose();
                    }
                }

                pool.Ready = kept;
                if (pool.Ready.Count == 0 && pool.Connecting == 0)
                {
                    _pools.Remove(key);
                }
            }
        }
    }

    private async Task<NodeConnection> ConnectAsync(KilnAgentRequest request, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(request.Host, out var address)
            ? [address]
            : await Dns.GetHostAddressesAsync(request.Host, cancellationToken).ConfigureAwait(false);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, request.Port, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var host = new HostSpec { Text = request.Node, Kind = HostKind.Tcp, Host = request.Host, Port = request.Port, Fingerprint = request.Fingerprint };
        var pin = new KilnServerPin(host, null, "the client expects (from its KILN_HOSTS pin or known_hosts)");
        var tls = await KilnProtocolClient.AuthenticateAsync(socket, host, pin, Certificate(request.ClientCertificateFile, socket), skipSystemCaBundle: false, cancellationToken)
            .ConfigureAwait(false);
        return new NodeConnection(socket, tls);
    }

    /// <summary>The client certificate in <paramref name="file"/>, loaded again when the file changes.</summary>
    private X509Certificate2? Certificate(string? file, Socket socket)
    {
        if (file is null)
        {
            return null;
        }

        try
        {
            var written = File.GetLastWriteTimeUtc(file);
            lock (_lock)
            {
                if (_certificates.TryGetValue(file, out var known) && known.Written == written)
                {
                    return known.Certificate;
                }

                var certificate = X509CertificateLoader.LoadPkcs12FromFile(file, password: null);
                _certificates[file] = (written, certificate);
                return certificate;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            socket.Dispose();
            throw new KilnTlsRefusal($"cannot load the client certificate {file}: {e.Message}");
        }
    }

    private static string Key(KilnAgentRequest request) => $"{request.Node}\t{request.Fingerprint}\t{request.ClientCertificateFile}";

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A node's connections: those ready, and how many are being made.</summary>
    private sealed class NodePool(KilnAgentRequest request)
    {
        public KilnAgentRequest Request { get; } = request;

        public Stack<NodeConnection> Ready { get; set; } = new();

        public int Connecting { get; set; }

        public void Clear()
        {
            while (Ready.TryPop(out var connection))
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>A TLS connection to a node, and (while ready) the read that notices the node closing it.</summary>
    private sealed class NodeConnection(Socket socket, SslStream tls) : IDisposable
    {
        public SslStream Tls { get; } = tls;

        /// <summary>When it was made, or last left clean by a client.</summary>
        public long Since { get; private set; } = Environment.TickCount64;

        /// <summary>True once a client said HELLO on it (the node's session is past its handshake timeout).</summary>
        public bool Welcomed { get; private set; }

        public byte[] Buffer { get; } = new byte[64 * 1024];

        public Task<int>? PendingRead { get; set; }

        public void Reused()
        {
            Welcomed = true;
            Since = Environment.TickCount64;
        }

        public void Dispose()
        {
            Tls.Dispose();
            socket.Dispose();
        }
    }
}

