using System.Net;
using Kiln.Server.Compile;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Hosting;

/// <summary>
/// A running node: Kestrel with every listener (Kiln protocol, HTTP, distcc) in one process. Tests
/// and benchmarks host it in-process on port 0; <c>kiln serve</c> hosts it on the default ports.
/// </summary>
public sealed class KilnNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KilnNode(WebApplication app, KilnNodeOptions options, CompileExecutor executor)
    {
        _app = app;
        Options = options;
        Executor = executor;
    }

    /// <summary>The options the node runs with.</summary>
    public KilnNodeOptions Options { get; }

    /// <summary>The node's compile executor.</summary>
    public CompileExecutor Executor { get; }

    /// <summary>The node's services (store, trust, audit log, tokens), for hosts and tests that act on it directly.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The node's counters.</summary>
    public NodeCounters Counters => Executor.Counters;

    /// <summary>The Kiln protocol endpoint as bound (the real port when 0 was asked for).</summary>
    public required IPEndPoint KilnEndPoint { get; init; }

    /// <summary>Why the local socket asked for is not served (the node goes on without it), or null.</summary>
    public string? LocalSocketRefusal { get; init; }

    /// <summary>The HTTP endpoint as bound, or null.</summary>
    public IPEndPoint? HttpEndPoint { get; init; }

    /// <summary>The distcc endpoint as bound, or null.</summary>
    public IPEndPoint? DistccEndPoint { get; init; }

    /// <summary>The gRPC endpoint as bound, or null.</summary>
    public IPEndPoint? GrpcEndPoint { get; init; }

    /// <summary>The Kiln protocol's TLS certificate fingerprint (SHA-256, hex): what clients pin with <c>,fp=</c>.</summary>
    public required string TlsFingerprint { get; init; }

    /// <summary>True when this start made the node's certificate (its first start with this data directory).</summary>
    public bool TlsCertificateCreated { get; init; }

    /// <summary>Builds and starts a node.</summary>
    public static async Task<KilnNode> StartAsync(KilnNodeOptions options, CancellationToken cancellationToken, Action<ILoggingBuilder>? logging = null)
    {
        Directory.CreateDirectory(options.DataDirectory);
        Kiln.Core.Hashing.Digest.PlatformSha256 = true;
        var counters = new NodeCounters();
        var executor = NodeExecutor.Create(options, counters);

        // Clients match jobs to compilers from WELCOME and TXT, so the facts are known before any listener serves.
        var compilers = await Discovery.CompilerFacts.ProbeNodeAsync(executor.CompilerDirectories, cancellationToken).ConfigureAwait(false);
        options.KilnProtocol.WelcomeAttributes = Discovery.NodeAdvertisement.WelcomeAttributes(options.NodeName, compilers, options.Tags);
        string? localSocketRefusal = null;
        if (options.LocalSocket is { } localSocket && LocalSocketListener.Prepare(localSocket) is { } refusal)
        {
            // A node without its local socket still serves everyone by TCP: said, not fatal.
            options.LocalSocket = null;
            localSocketRefusal = refusal;
        }

        // No configuration file is watched, and the content root is the program's own directory: by
        // default the host watches the current directory, recursively, for appsettings.json changes,
        // so a node started inside a build tree read an inotify event for every file the build wrote
        // (about a sixth of the node's own CPU per compile in perf, docs/benchmarks.md).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        if (logging is not null)
        {
            logging(builder.Logging);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        }

        var listeners = new NodeListeners(options);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(executor);
        builder.Services.AddSingleton(counters);
        builder.Services.AddSingleton(listeners);
        NodeServices.Add(builder.Services, options);

        if (InlineSocketIo.Enabled)
        {
            // Kestrel's half of the same choice: the transport and the connection's code run on the
            // thread its socket's completion came on, with no hop to Kestrel's I/O queue or the pool.
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = 1L << 32;
            listeners.Configure(kestrel);
        });

        var app = builder.Build();
        app.Services.GetRequiredService<Discovery.PeerDirectory>().SetCompilers(compilers);
        NodeEndpoints.Map(app);
        Discovery.DiscoveryEndpoints.Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);

        var tls = app.Services.GetRequiredService<Security.KilnTransportSecurity>();
        if (options.LocalSocket is not null)
        {
            options.KilnProtocol.LocalSocket = new Kiln.Core.Protocol.KilnLocalSocket(
                listeners.Kiln!.IPEndPoint!.Port, Kiln.Core.Protocol.UnixPeerCredentials.EffectiveUserId(), Kiln.Core.Protocol.KilnLocalSocket.CurrentNetworkNamespace(), options.LocalSocket);
        }

        return new KilnNode(app, options, executor)
        {
            LocalSocketRefusal = localSocketRefusal,
            TlsFingerprint = tls.Fingerprint,
            TlsCertificateCreated = tls.CertificateCreated,
            KilnEndPoint = listeners.Kiln!.IPEndPoint!,
            HttpEndPoint = listeners.Http?.IPEndPoint,
            DistccEndPoint = listeners.Distcc?.IPEndPoint,
            GrpcEndPoint = listeners.Grpc?.IPEndPoint,
        };
    }

    /// <summary>Waits until the node is asked to stop (Ctrl-C, SIGTERM) or the token is cancelled.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Stops the node, waiting at most a few seconds for running connections.</summary>
    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync().ConfigureAwait(false);
        Executor.Dispose();
    }
}
