using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Core.Protocol;

/// <summary>
/// Sends compiles to Kiln nodes over the Kiln protocol (TLS 1.3 over TCP; the node's certificate is
/// pinned by <c>,fp=</c> or the known-hosts file, see <see cref="KilnServerPin"/>). HELLO, JOB and the INPUT frames go out
/// without waiting for a reply, gathered into one socket write per group, so a job costs one round
/// trip. Idle connections are kept per node and reused (without a new HELLO). Every network failure
/// becomes <see cref="RemoteStatus.Failed"/> with a message naming the node; only the caller's own
/// cancellation throws.
/// </summary>
public sealed partial class KilnProtocolClient(KilnClientOptions? options = null) : IRemoteCompileClient, IRemoteDirectClient, IDisposable
{
    /// <summary>
    /// Chain building for a pinned node: custom trust with no roots (nodes are self-signed and trusted
    /// by fingerprint), no revocation checks, no downloads. This alone does not stop .NET loading the
    /// system CA bundle (strace still showed the reads); <see cref="SystemCaBundle"/> does that.
    /// </summary>
    private static readonly X509ChainPolicy s_pinOnlyChainPolicy = new()
    {
        TrustMode = X509ChainTrustMode.CustomRootTrust,
        RevocationMode = X509RevocationMode.NoCheck,
        DisableCertificateDownloads = true,
    };

    private readonly KilnClientOptions _options = options ?? new KilnClientOptions();
    private readonly Dictionary<string, Stack<KilnClientConnection>> _idle = new(StringComparer.Ordinal);
    private readonly Lock _idleLock = new();
    private readonly Dictionary<string, KilnWelcome> _welcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<(KilnWelcome? Welcome, string? Unreachable)>> _preparing = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KilnClientConnection> _prepared = new(StringComparer.Ordinal);
    private int _connectionsOpened;

    private X509Certificate2? _clientCertificate;

    /// <summary>The client certificate to offer: the one given, else the file's, loaded once.</summary>
    private X509Certificate2? ClientCertificate()
    {
        if (_options.ClientCertificate is { } given)
        {
            return given;
        }

        if (_options.ClientCertificateFile is not { } file)
        {
            return null;
        }

        lock (_idleLock)
        {
            return _clientCertificate ??= X509CertificateLoader.LoadPkcs12FromFile(file, password: null);
        }
    }

    /// <summary>The WELCOME a node sent on this client's latest new connection to it, or null.</summary>
    public KilnWelcome? LastWelcome(HostSpec host)
    {
        lock (_idleLock)
        {
            return _welcomes.GetValueOrDefault(host.Display);
        }
    }

    /// <summary>
    /// Connects to <paramref name="host"/>, says HELLO and reads WELCOME, so a caller can learn a node's
    /// compilers and free slots before it sends a job. The connection is kept for the next job to the
    /// node (which then needs no HELLO). Null when the node cannot be reached or does not answer within
    /// the connect timeout.
    /// </summary>
    public async Task<KilnWelcome?> HandshakeAsync(HostSpec host, CancellationToken cancellationToken)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
        {
            return null;
        }

        // A connect Prepare began is finished first (its connection is then idle, and used here).
        if (await AwaitPreparedAsync(host.Display, cancellationToken).ConfigureAwait(false) is not null)
        {
            return null;
        }

        var (welcome, _) = Synchronous(host) ? ShakeHandsSynchronously(host) : await ShakeHandsAsync(host, cancellationToken).ConfigureAwait(false);
        return welcome;
    }

    /// <summary>
    /// Connect, HELLO, WELCOME; the connection goes to the idle pool. Returns the WELCOME, or why there
    /// is none: <c>Unreachable</c> is set when no connection could be made at all (refused, timed out,
    /// TLS refused), which a job to the node would meet again.
    /// </summary>
    private async Task<(KilnWelcome? Welcome, string? Unreachable)> ShakeHandsAsync(HostSpec host, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        KilnClientConnection? connection = null;
        try
        {
            try
            {
                // A connection Prepare made (connected, no HELLO yet) is used rather than a new one.
                connection = TakeIdle(host.Display);
                if (connection?.Welcome is { } known)
                {
                    ReturnIdle(host.Display, connection);
                    connection = null;
                    return (known, null);
                }

                connection ??= await ConnectAsync(host, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (null, $"no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
            }
            catch (SocketException e)
            {
                return (null, $"cannot connect: {e.Message}");
            }
            catch (KilnTlsRefusal e)
            {
                return (null, e.Message);
            }

            var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName);
            var frame = new byte[hello.FrameLength];
            hello.WriteFrame(frame);
            await connection.Stream.WriteAsync(frame, timeout.Token).ConfigureAwait(false);
            var (type, _, payload) = await ReadFrameAsync(connection, timeout.Token).ConfigureAwait(false);
            if (type != KilnFrameType.Welcome || !KilnWelcome.TryParse(payload, out var welcome, out _)
                || welcome.Version is < KilnProtocol.MinVersion or > KilnProtocol.Version)
            {
                return (null, null);
            }

            connection.Welcome = welcome;
            Remember(host.Display, welcome);
            ReturnIdle(host.Display, connection);
            connection = null;
            return (welcome, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, null);
        }
        catch (Exception e) when (e is SocketException or IOException or EndOfStreamException or KilnProtocolViolation or ObjectDisposedException)
        {
            return (null, null);
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>
    /// Starts connecting to <paramref name="host"/> (TCP, and TLS unless plaintext) without waiting,
    /// unless a connection to it is idle or on its way; the next job or handshake to the node waits for
    /// it and uses it. <c>kiln cc</c> calls this before it runs the preprocessor, so the connection is
    /// made while the preprocessor runs (distcc's client connects while its cpp runs too). HELLO is
    /// left to the job, whose WELCOME then tells the node's free slots as of the job (the facts the
    /// next compiles choose by: sent a preprocessor's time early, they sent more jobs to a 1-slot node
    /// than its share in the shared-cluster test).
    /// </summary>
    public void Prepare(HostSpec host)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
        {
            return;
        }

        var node = host.Display;
        lock (_idleLock)
        {
            if (_preparing.ContainsKey(node) || _connecting.ContainsKey(node) || _prepared.ContainsKey(node) || (_idle.TryGetValue(node, out var idle) && idle.Count > 0))
            {
                return;
            }

            if (!Synchronous(host))
            {
                // The connect (and TLS handshake) only starts here; it never throws. HELLO is not sent:
                // it goes with the job, so the WELCOME's free slots are the node's when the job comes.
                _preparing[node] = ConnectForJobAsync(host);
                return;
            }
        }

        // A connect without a thread: what fails here fails again, and is reported, when the job connects.
        _ = BeginConnect(host);
    }

    /// <summary>A connection made ahead of a job (TCP and TLS, no HELLO), left idle for it; or why there is none.</summary>
    private async Task<(KilnWelcome? Welcome, string? Unreachable)> ConnectForJobAsync(HostSpec host)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout);
        try
        {
            var connection = await ConnectAsync(host, timeout.Token).ConfigureAwait(false);
            lock (_idleLock)
            {
                // Kept apart from the idle pool: TLS 1.3 session tickets arrive after the handshake, and
                // the idle check would take those unread bytes for a node that closed the connection.
                if (_prepared.Remove(host.Display, out var older))
                {
                    older.Dispose();
                }

                _prepared[host.Display] = connection;
            }

            return (null, null);
        }
        catch (OperationCanceledException)
        {
            return (null, $"no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return (null, $"cannot connect: {e.Message}");
        }
        catch (KilnTlsRefusal e)
        {
            return (null, e.Message);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return (null, $"cannot connect: {e.Message}");
        }
    }

    /// <summary>
    /// Waits for a connect <see cref="Prepare"/> started with <paramref name="node"/>, if any: null
    /// when there was none or it succeeded (its connection is then idle), else why the node could not
    /// be reached.
    /// </summary>
    private async Task<string?> AwaitPreparedAsync(string node, CancellationToken cancellationToken)
    {
        Task<(KilnWelcome? Welcome, string? Unreachable)>? preparing;
        lock (_idleLock)
        {
            if (_preparing.Remove(node, out preparing) is false)
            {
                return null;
            }
        }

        var (_, unreachable) = await preparing.WaitAsync(cancellationToken).ConfigureAwait(false);
        return unreachable;
    }

    private void Remember(string node, KilnWelcome welcome)
    {
        lock (_idleLock)
        {
            _welcomes[node] = welcome;
        }
    }

    /// <summary>TCP connections this client has opened (reused connections count once).</summary>
    internal int ConnectionsOpened => Volatile.Read(ref _connectionsOpened);

    /// <inheritdoc/>
    public async Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        var node = host.Display;
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
        {
            return RemoteCompileReply.Fail($"node {node}: not a Kiln protocol TCP host");
        }

        var input = request.Preprocessed;
        var job = new KilnJob
        {
            ActionKey = request.ActionKey,
            InputDigest = request.PreprocessedDigest is { } known && known.Size == input.Length ? known : Digest.FromBytes(input.Span),
            InputSize = input.Length,
            Language = request.Language,
            Compiler = request.Compiler,
            Arguments = request.Arguments,
            SourceName = request.SourceName,
            WorkingDirectory = request.WorkingDirectory,
            Locale = request.Locale,
        };
        PhaseTrace.Mark("cc", "hashed");
        var invalid = job.Validate();
        if (invalid is not null)
        {
            return RemoteCompileReply.Fail($"node {node}: {invalid}");
        }

        var whileCompiling = request.WhileCompiling;
        if (Synchronous(host))
        {
            return await CompileAheadAsync(host, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false)
                ?? await CompileSynchronouslyAsync(host, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false);
        }

        if (await AwaitPreparedAsync(node, cancellationToken).ConfigureAwait(false) is { } unreachable)
        {
            // The handshake begun while the input was preprocessed already met what a connect now would.
            return RemoteCompileReply.Fail($"node {node}: {unreachable}");
        }

        var pooled = TakeIdle(node);
        if (pooled is not null)
        {
            var reused = await ExchangeAsync(pooled, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false);

            // A node closes idle connections; a reused one that yields nothing is retried once on a new one.
            if (!reused.NothingReceived && !(reused.Error?.Code == KilnErrorCode.ReadTimeout))
            {
                return ToReply(node, reused);
            }
        }

        KilnClientConnection connection;
        try
        {
            connection = await ConnectAsync(host, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return RemoteCompileReply.Fail($"node {node}: no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return RemoteCompileReply.Fail($"node {node}: cannot connect: {e.Message}");
        }
        catch (KilnTlsRefusal e)
        {
            return RemoteCompileReply.Fail($"node {node}: {e.Message}");
        }

        return ToReply(node, await ExchangeAsync(connection, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>CompileAsync on the synchronous way (KilnProtocolClient.Synchronous.cs): an idle or begun connection, else a new one.</summary>
    private async Task<RemoteCompileReply> CompileSynchronouslyAsync(HostSpec host, string node, KilnJob job, ReadOnlyMemory<byte> input, Action? whileCompiling,
        CancellationToken cancellationToken, bool reuse = true)
    {
        if (reuse && TakeIdle(node) is { } pooled)
        {
            var reused = await ExchangeSynchronouslyAsync(pooled, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false);

            // A node closes idle connections; a reused one that yields nothing is retried once on a new one.
            if (!reused.NothingReceived)
            {
                return ToReply(node, reused);
            }
        }

        KilnClientConnection connection;
        try
        {
            connection = ConnectSynchronously(host);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            return RemoteCompileReply.Fail($"node {node}: no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            return RemoteCompileReply.Fail($"node {node}: cannot connect: {e.Message}");
        }

        return ToReply(node, await ExchangeSynchronouslyAsync(connection, node, job, input, whileCompiling, cancellationToken).ConfigureAwait(false));
    }

    private async Task<KilnClientConnection> ConnectAsync(HostSpec host, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        var addresses = IPAddress.TryParse(host.Host, out var address)
            ? [address]
            : await Dns.GetHostAddressesAsync(host.Host, timeout.Token).ConfigureAwait(false);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, host.EffectivePort, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Interlocked.Increment(ref _connectionsOpened);
        PhaseTrace.Mark("cc", "connected");
        if (host.Plaintext)
        {
            return new KilnClientConnection(socket, new NetworkStream(socket, ownsSocket: false), secure: false);
        }

        var pin = new KilnServerPin(host, _options.KnownHosts);
        var tls = await AuthenticateAsync(socket, host, pin, ClientCertificate(), _options.SkipSystemCaBundle, timeout.Token).ConfigureAwait(false);
        if (pin.FirstUse is { } first)
        {
            _options.KnownHosts!.Remember(pin.Node, first);
            _options.Notice?.Invoke(
                $"kiln: WARNING: trusting node {pin.Node} on first use: its certificate's SHA-256 fingerprint is {first}. " +
                $"Recorded in {_options.KnownHosts.Path}; compare it with the fingerprint 'kiln serve' printed, or pin it with ',fp={first}' in KILN_HOSTS.");
        }

        return new KilnClientConnection(socket, tls, secure: true);
    }

    /// <summary>
    /// The TLS handshake with a node on a connected <paramref name="socket"/>, its certificate checked by
    /// <paramref name="pin"/>. Throws <see cref="KilnTlsRefusal"/> saying why when it fails (the socket is
    /// then closed). Used by this client and by the agent (Kiln.Core.Agent), which keeps TLS connections
    /// for short-lived clients.
    /// </summary>
    internal static async Task<SslStream> AuthenticateAsync(Socket socket, HostSpec host, KilnServerPin pin, X509Certificate2? clientCertificate,
        bool skipSystemCaBundle, CancellationToken cancellationToken)
    {
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var bundle = skipSystemCaBundle ? SystemCaBundle.SkipOnce() : null;
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = host.Host,
                EnabledSslProtocols = SslProtocols.Tls13,
                RemoteCertificateValidationCallback = pin.Check,
                ClientCertificates = clientCertificate is { } certificate ? [certificate] : null,
                // The node is trusted by its pinned fingerprint alone (KilnServerPin), never by a CA, so the
                // chain is built against no roots. The ~100 ms CA-bundle load per kiln cc is avoided by
                // SystemCaBundle above, not by this policy.
                CertificateChainPolicy = s_pinOnlyChainPolicy,
            }, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            tls.Dispose();
            socket.Dispose();
            throw new KilnTlsRefusal(pin.Refusal ?? $"TLS handshake failed: {e.Message} (is the node older than TLS, or started with a different --listen?)");
        }
        catch
        {
            tls.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Runs one job on a connection; the connection goes back to the pool when it stays usable, else it is closed.</summary>
    private async Task<KilnClientReply> ExchangeAsync(
        KilnClientConnection connection, string node, KilnJob job, ReadOnlyMemory<byte> input, Action? whileCompiling, CancellationToken cancellationToken)
    {
        using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        io.CancelAfter(_options.IoTimeout);

        // Disposing the socket is what aborts a pending gather write when the deadline passes.
        using var abort = io.Token.UnsafeRegister(static c => ((KilnClientConnection)c!).Dispose(), connection);
        var hello = connection.Welcome is null;
        var replyTask = ReadReplyAsync(connection, node, hello, io);
        var sent = SendState.Failed;
        string? sendFailure = null;
        try
        {
            sent = await SendJobAsync(connection, hello, job, input, replyTask).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "sent");
            whileCompiling?.Invoke();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            sendFailure = e.Message;
        }

        KilnClientReply reply;
        try
        {
            reply = await replyTask.ConfigureAwait(false);
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

        if (sendFailure is not null && reply.Failure is not null)
        {
            // The node's own ERROR explains a failed write better than the socket's message, when it sent one.
            reply = reply with { Failure = $"sending the job failed: {sendFailure}" };
        }

        if (sent == SendState.Complete && reply.KeepsConnection && !io.IsCancellationRequested)
        {
            ReturnIdle(node, connection);
        }
        else
        {
            connection.Dispose();
        }

        if (io.IsCancellationRequested && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return reply;
    }

    private enum SendState
    {
        Failed,
        Complete,
    }

    /// <summary>
    /// Writes HELLO (on a new connection), JOB and the INPUT frames, one gathered socket write per
    /// group of <see cref="KilnClientOptions.WriteGroupBytes"/>. When the node answers before the
    /// input is all sent, the rest is skipped and an empty LAST INPUT ends the job.
    /// </summary>
    private async Task<SendState> SendJobAsync(KilnClientConnection connection, bool hello, KilnJob job, ReadOnlyMemory<byte> input, Task<KilnClientReply> replyTask)
    {
        var chunkSize = Math.Clamp(_options.ChunkSize, 1, KilnProtocol.MaxInputChunk);
        var chunks = input.Length == 0 ? 1 : (input.Length + chunkSize - 1) / chunkSize;
        var helloFrame = hello ? new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName) : null;

        // One buffer holds HELLO, JOB and every INPUT header; the input itself is sent from where it lies.
        var control = new byte[(helloFrame?.FrameLength ?? 0) + job.FrameLength + (chunks * KilnFrameHeader.Size)];
        var position = helloFrame?.WriteFrame(control) ?? 0;
        position += job.WriteFrame(control.AsSpan(position));
        var body = MemoryMarshal.TryGetArray(input, out var segment) ? segment : new ArraySegment<byte>(input.ToArray());

        var group = new List<ArraySegment<byte>>(Math.Min(2 * chunks, (2 * _options.WriteGroupBytes / chunkSize) + 4));
        group.Add(new ArraySegment<byte>(control, 0, position));
        var groupBytes = 0;
        for (var i = 0; i < chunks; i++)
        {
            var offset = i * chunkSize;
            var length = Math.Min(chunkSize, input.Length - offset);
            var last = i == chunks - 1;
            new KilnFrameHeader(KilnFrameType.Input, last ? KilnFrameFlags.Last : KilnFrameFlags.None, length).Write(control.AsSpan(position));
            group.Add(new ArraySegment<byte>(control, position, KilnFrameHeader.Size));
            position += KilnFrameHeader.Size;
            if (length > 0)
            {
                group.Add(new ArraySegment<byte>(body.Array!, body.Offset + offset, length));
            }

            groupBytes += length;
            if (!last && groupBytes < _options.WriteGroupBytes)
            {
                continue;
            }

            await SendAllAsync(connection, group).ConfigureAwait(false);
            group.Clear();
            groupBytes = 0;
            if (!last && replyTask.IsCompleted)
            {
                // Answered early (a refusal now, a cache hit later): end the job with an empty LAST INPUT.
                if (!replyTask.IsCompletedSuccessfully || !(await replyTask.ConfigureAwait(false)).KeepsConnection)
                {
                    return SendState.Failed;
                }

                var end = new byte[KilnFrameHeader.Size];
                new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.Last, 0).Write(end);
                group.Add(new ArraySegment<byte>(end));
                await SendAllAsync(connection, group).ConfigureAwait(false);
                return SendState.Complete;
            }
        }

        return SendState.Complete;
    }

    private static async Task SendAllAsync(KilnClientConnection connection, List<ArraySegment<byte>> buffers)
    {
        var expected = 0;
        foreach (var b in buffers)
        {
            expected += b.Count;
        }

        if (connection.Secure)
        {
            // One TLS write per group: each write is its own TLS record, so the group is gathered first.
            var gathered = ArrayPool<byte>.Shared.Rent(expected);
            try
            {
                var at = 0;
                foreach (var b in buffers)
                {
                    b.AsSpan().CopyTo(gathered.AsSpan(at));
                    at += b.Count;
                }

                await connection.Stream.WriteAsync(gathered.AsMemory(0, expected)).ConfigureAwait(false);
                await connection.Stream.FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(gathered);
            }

            return;
        }

        if (connection.Socket is null)
        {
            // A synchronous-way connection taken by an asynchronous caller: its sends block anyway.
            connection.SendBlocking(buffers);
            return;
        }

        var sent = await connection.Socket.SendAsync(buffers, SocketFlags.None).ConfigureAwait(false);
        if (sent != expected)
        {
            throw new IOException($"the socket took {sent} of {expected} bytes");
        }
    }

    /// <summary>Reads WELCOME (on a new connection) and the job's reply. Network failures become failed replies.</summary>
    private async Task<KilnClientReply> ReadReplyAsync(KilnClientConnection connection, string node, bool hello, CancellationTokenSource io)
    {
        var received = false;
        try
        {
            if (hello)
            {
                var (type, _, payload) = await ReadFrameAsync(connection, io.Token).ConfigureAwait(false);
                received = true;
                if (AcceptWelcome(connection, node, type, payload) is { } refused)
                {
                    return refused;
                }
            }

            var (replyType, replyFlags, reply) = await ReadFrameAsync(connection, io.Token).ConfigureAwait(false);
            received = true;
            return ReplyOf(replyType, replyFlags, reply);
        }
        catch (OperationCanceledException) when (io.IsCancellationRequested)
        {
            throw;
        }
        catch (EndOfStreamException)
        {
            return KilnClientReply.Failed("the node closed the connection without a reply", nothingReceived: !received);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            if (io.IsCancellationRequested)
            {
                throw new OperationCanceledException(io.Token);
            }

            return KilnClientReply.Failed($"connection lost: {e.Message}", nothingReceived: !received);
        }
        catch (KilnProtocolViolation e)
        {
            return KilnClientReply.Failed($"protocol error: {e.Message}");
        }
    }

    /// <summary>Takes the frame a new connection's HELLO was answered with: null when it is a WELCOME this client speaks (kept on the connection), else the reply that ends the job.</summary>
    private KilnClientReply? AcceptWelcome(KilnClientConnection connection, string node, KilnFrameType type, ReadOnlyMemory<byte> payload)
    {
        if (type == KilnFrameType.Error)
        {
            return ParseError(payload);
        }

        if (type != KilnFrameType.Welcome)
        {
            return KilnClientReply.Failed($"protocol error: expected WELCOME, got {KilnFrameHeader.Name(type)}");
        }

        if (!KilnWelcome.TryParse(payload, out var welcome, out var error))
        {
            return KilnClientReply.Failed($"protocol error: {error.Message}");
        }

        if (welcome.Version is < KilnProtocol.MinVersion or > KilnProtocol.Version)
        {
            return KilnClientReply.Failed($"protocol error: node chose version {welcome.Version}, outside {KilnProtocol.MinVersion}..{KilnProtocol.Version}");
        }

        connection.Welcome = welcome;
        Remember(node, welcome);
        return null;
    }

    /// <summary>The reply a job's answer frame gives.</summary>
    private static KilnClientReply ReplyOf(KilnFrameType type, KilnFrameFlags flags, ReadOnlyMemory<byte> payload)
    {
        switch (type)
        {
            case KilnFrameType.Result:
                return KilnResult.TryParse(payload, out var result, out var resultError)
                    ? new KilnClientReply(result, null, null, null, false) { FromCache = (flags & KilnFrameFlags.FromCache) != 0 }
                    : KilnClientReply.Failed($"protocol error: {resultError.Message}");
            case KilnFrameType.Busy:
                return KilnBusy.TryParse(payload, out var busy, out var busyError)
                    ? new KilnClientReply(null, busy.Reason, null, null, false)
                    : KilnClientReply.Failed($"protocol error: {busyError.Message}");
            case KilnFrameType.Error:
                return ParseError(payload);
            default:
                return KilnClientReply.Failed($"protocol error: expected RESULT, BUSY or ERROR, got {KilnFrameHeader.Name(type)}");
        }
    }

    internal static KilnClientReply ParseError(ReadOnlyMemory<byte> payload) =>
        KilnError.TryParse(payload, out var error, out var malformed)
            ? new KilnClientReply(null, null, error, null, false)
            : KilnClientReply.Failed($"protocol error: {malformed.Message}");

    private static async Task<(KilnFrameType Type, KilnFrameFlags Flags, ReadOnlyMemory<byte> Payload)> ReadFrameAsync(KilnClientConnection connection, CancellationToken cancellationToken)
    {
        await connection.Stream.ReadExactlyAsync(connection.Header, cancellationToken).ConfigureAwait(false);
        if (!KilnFrameHeader.TryRead(connection.Header, MaxServerPayload, out var header, out var error))
        {
            throw new KilnProtocolViolation(error.Message);
        }

        if (header.Length == 0)
        {
            return (header.Type, header.Flags, ReadOnlyMemory<byte>.Empty);
        }

        var payload = new byte[header.Length];
        await connection.Stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        return (header.Type, header.Flags, payload);
    }

    /// <summary>The largest payload a client accepts per frame type; RESULT carries object files, the rest are small.</summary>
    internal static int MaxServerPayload(KilnFrameType type) => type switch
    {
        KilnFrameType.Result => KilnProtocol.MaxFrameLength,
        KilnFrameType.Manifest => KilnManifest.MaxManifestLength,
        KilnFrameType.Welcome or KilnFrameType.Busy or KilnFrameType.Error => 1 << 16,
        KilnFrameType.Sync => KilnProtocol.MaxSyncPayload,
        _ => -1,
    };

    internal static RemoteCompileReply ToReply(string node, KilnClientReply reply)
    {
        if (reply.Result is { } result)
        {
            ReadOnlyMemory<byte>? dependency = null;
            foreach (var f in result.ExtraFiles)
            {
                if (f.Name == KilnOutputFile.DependencyFileName)
                {
                    dependency = f.Content;
                }
            }

            var outcome = new CompileOutcome
            {
                ExitCode = result.ExitCode,
                Stdout = result.Stdout,
                Stderr = result.Stderr,
                Object = result.Object,
                DependencyFile = dependency,
            };
            return new RemoteCompileReply(RemoteStatus.Completed, outcome, null) { FromCache = reply.FromCache };
        }

        if (reply.BusyReason is not null)
        {
            return new RemoteCompileReply(RemoteStatus.Busy, null, $"node {node}: {reply.BusyReason}");
        }

        if (reply.Error is { } error)
        {
            var refused = error.Code is KilnErrorCode.CompilerNotAllowed or KilnErrorCode.ArgumentRefused
                or KilnErrorCode.TooLarge or KilnErrorCode.UnsupportedLanguage;
            return refused
                ? new RemoteCompileReply(RemoteStatus.Refused, null, $"node {node}: {error.Message}")
                : RemoteCompileReply.Fail($"node {node}: {error}");
        }

        return RemoteCompileReply.Fail($"node {node}: {reply.Failure}");
    }

    private KilnClientConnection? TakeIdle(string node)
    {
        lock (_idleLock)
        {
            if (_prepared.Remove(node, out var prepared))
            {
                // Made for this job a moment ago; a dead one yields nothing and the job retries anew.
                return prepared;
            }

            if (!_idle.TryGetValue(node, out var stack))
            {
                return null;
            }

            while (stack.TryPop(out var connection))
            {
                if (!connection.LooksClosed())
                {
                    return connection;
                }

                connection.Dispose();
            }

            return null;
        }
    }

    /// <summary>True when the newest idle connection to <paramref name="node"/> was closed by the node (for tests).</summary>
    internal bool IdleConnectionLooksClosed(string node)
    {
        lock (_idleLock)
        {
            return _idle.TryGetValue(node, out var stack) && stack.TryPeek(out var connection) && connection.LooksClosed();
        }
    }

    private void ReturnIdle(string node, KilnClientConnection connection)
    {
        lock (_idleLock)
        {
            if (!_idle.TryGetValue(node, out var stack))
            {
                stack = new Stack<KilnClientConnection>();
                _idle[node] = stack;
            }

            if (stack.Count < _options.MaxIdleConnectionsPerNode)
            {
                stack.Push(connection);
                return;
            }
        }

        connection.Dispose();
    }

    /// <summary>Closes every idle connection.</summary>
    public void Dispose()
    {
        lock (_idleLock)
        {
            foreach (var stack in _idle.Values)
            {
                while (stack.TryPop(out var connection))
                {
                    connection.Dispose();
                }
            }

            _idle.Clear();
            foreach (var connection in _prepared.Values)
            {
                connection.Dispose();
            }

            _prepared.Clear();
            foreach (var (socket, _) in _connecting.Values)
            {
                socket.Dispose();
            }

            _connecting.Clear();
            foreach (var (connection, _) in _sentAhead.Values)
            {
                connection.Dispose();
            }

            _sentAhead.Clear();
        }
    }
}
