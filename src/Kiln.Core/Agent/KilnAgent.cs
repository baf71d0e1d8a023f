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
/// Ready connections are kept per node while it is in use: each one taken is replaced at once, the
/// number kept grows when a client finds none ready and shrinks when they expire unused, and none are
/// made for a node without a client for <see cref="KilnAgentOptions.KeepWarm"/>. A ready connection
/// waits at most <see cref="KilnAgentOptions.PooledMaxAge"/>, under the node's HELLO timeout, with a read
/// pending on it, so a node that closed it is noticed before a client is handed it.
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
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    /// <summary>Clients served, how many found a handshaken connection ready, how many waited for one, and how many found the node unreachable.</summary>
    public (long Served, long Ready, long Fresh, long Unreachable) Counts =>
        (Interlocked.Read(ref _served), Interlocked.Read(ref _ready), Interlocked.Read(ref _fresh), Interlocked.Read(ref _unreachable));

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

            await SpliceAsync(client, buffer.AsMemory(end, filled - end), node).ConfigureAwait(false);
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

    /// <summary>Copies bytes both ways until the client or the node closes.</summary>
    private static async Task SpliceAsync(Socket client, ReadOnlyMemory<byte> early, NodeConnection node)
    {
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        var down = DownAsync(node, clientStream);
        var up = UpAsync(clientStream, early, node.Tls);
        if (await Task.WhenAny(up, down).ConfigureAwait(false) == down)
        {
            // The node closed: the client reads the end, and closes in turn.
            try
            {
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }

            await Task.WhenAny(up, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        }

        node.Dispose();
        client.Dispose();
        await Task.WhenAll(up, down).ConfigureAwait(false);
    }

    private static async Task UpAsync(NetworkStream client, ReadOnlyMemory<byte> early, SslStream node)
    {
        try
        {
            if (!early.IsEmpty)
            {
                await node.WriteAsync(early).ConfigureAwait(false);
            }

            var buffer = new byte[64 * 1024];
            while (true)
            {
                var read = await client.ReadAsync(buffer).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                await node.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
        }
    }

    private static async Task DownAsync(NodeConnection node, NetworkStream client)
    {
        try
        {
            var read = node.PendingRead is { } pending ? await pending.ConfigureAwait(false) : await node.Tls.ReadAsync(node.Buffer).ConfigureAwait(false);
            while (read > 0)
            {
                await client.WriteAsync(node.Buffer.AsMemory(0, read)).ConfigureAwait(false);
                read = await node.Tls.ReadAsync(node.Buffer).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
        }
    }

    /// <summary>A ready connection to the node <paramref name="request"/> names, or null; starts making its replacement either way.</summary>
    private NodeConnection? Take(KilnAgentRequest request)
    {
        var key = Key(request);
        NodeConnection? taken = null;
        lock (_lock)
        {
            if (!_pools.TryGetValue(key, out var pool))
            {
                pool = new NodePool(request);
                _pools[key] = pool;
            }

            pool.LastUsed = Environment.TickCount64;
            while (pool.Ready.TryPop(out var ready))
            {
                if (Usable(ready))
                {
                    taken = ready;
                    break;
                }

                ready.Dispose();
            }

            if (taken is null && pool.Target < options.MaxReadyPerNode)
            {
                pool.Target++;
            }

            Refill(pool);
        }

        return taken;
    }

    private bool Usable(NodeConnection connection) =>
        connection.PendingRead is { IsCompleted: false } && Environment.TickCount64 - connection.Made < options.PooledMaxAge.TotalMilliseconds;

    /// <summary>Starts handshakes until <paramref name="pool"/> has its target ready or on the way. Called under the lock.</summary>
    private void Refill(NodePool pool)
    {
        for (var missing = pool.Target - pool.Ready.Count - pool.Connecting; missing > 0 && !_stopping; missing--)
        {
            pool.Connecting++;
            _ = FillOneAsync(pool);
        }
    }

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
                if (_stopping)
                {
                    made.Dispose();
                }
                else
                {
                    pool.Ready.Push(made);
                }
            }
        }
    }

    /// <summary>Drops ready connections that aged or closed, shrinks targets that were too big, and keeps nodes in use warm.</summary>
    private void Expire()
    {
        lock (_lock)
        {
            foreach (var (key, pool) in _pools.ToArray())
            {
                var kept = new Stack<NodeConnection>();
                var expired = 0;
                foreach (var connection in pool.Ready.Reverse())
                {
                    if (Usable(connection))
                    {
                        kept.Push(connection);
                    }
                    else
                    {
                        expired++;
                        connection.Dispose();
                    }
                }

                pool.Ready = kept;
                if (expired > 0 && pool.Target > 1)
                {
                    pool.Target--;
                }

                if (Environment.TickCount64 - pool.LastUsed < options.KeepWarm.TotalMilliseconds)
                {
                    Refill(pool);
                }
                else if (pool.Ready.Count == 0 && pool.Connecting == 0)
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

    /// <summary>A node's connections: those ready, how many are on their way, and how many to keep.</summary>
    private sealed class NodePool(KilnAgentRequest request)
    {
        public KilnAgentRequest Request { get; } = request;

        public Stack<NodeConnection> Ready { get; set; } = new();

        public int Connecting { get; set; }

        public int Target { get; set; } = 1;

        public long LastUsed { get; set; } = Environment.TickCount64;

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

        public long Made { get; } = Environment.TickCount64;

        public byte[] Buffer { get; } = new byte[64 * 1024];

        public Task<int>? PendingRead { get; set; }

        public void Dispose()
        {
            Tls.Dispose();
            socket.Dispose();
        }
    }
}
