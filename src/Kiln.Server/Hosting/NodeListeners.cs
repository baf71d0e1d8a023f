using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>
/// The node's Kestrel listeners. Binary protocols are <c>ConnectionHandler</c>s beside HTTP in one
/// process. Each <see cref="ListenOptions"/> is kept so the bound port is known after start.
/// </summary>
public sealed class NodeListeners(KilnNodeOptions options)
{
    /// <summary>The Kiln protocol listener.</summary>
    public ListenOptions? Kiln { get; private set; }

    /// <summary>The local socket's listener (the Kiln protocol without TLS, for this machine), or null.</summary>
    public ListenOptions? Local { get; private set; }

    /// <summary>The HTTP listener.</summary>
    public ListenOptions? Http { get; private set; }

    /// <summary>The distcc listener.</summary>
    public ListenOptions? Distcc { get; private set; }

    /// <summary>The gRPC listener.</summary>
    public ListenOptions? Grpc { get; private set; }

    internal void Configure(KestrelServerOptions kestrel)
    {
        kestrel.Listen(options.Listen, listen =>
        {
            Kiln = listen;
            listen.Protocols = HttpProtocols.None;
            ConfigureKiln(listen);
        });

        if (options.LocalSocket is not null)
        {
            kestrel.ListenUnixSocket(options.LocalSocket, listen =>
            {
                Local = listen;
                listen.Protocols = HttpProtocols.None;
                listen.UseConnectionHandler<Protocol.KilnConnectionHandler>();
            });
        }

        if (options.Http is not null)
        {
            kestrel.Listen(options.Http, listen =>
            {
                Http = listen;
                // Plaintext HTTP/2 needs prior knowledge, which ccache, Bazel and browsers do not use here.
                listen.Protocols = HttpProtocols.Http1;
                if (options.HttpFastPath)
                {
                    // Small ccache GETs are answered before the HTTP layer; everything else passes through.
                    listen.Use(listen.ApplicationServices.GetRequiredService<Cache.CcacheFastPath>().Wrap);
                }
            });
        }

        if (options.Distcc is not null)
        {
            kestrel.Listen(options.Distcc, listen =>
            {
                Distcc = listen;
                listen.Protocols = HttpProtocols.None;
                ConfigureDistcc(listen);
            });
        }

        if (options.Grpc is not null)
        {
            kestrel.Listen(options.Grpc, listen =>
            {
                Grpc = listen;
                // Bazel speaks h2c with prior knowledge on grpc://: HTTP/2 only, no TLS.
                listen.Protocols = HttpProtocols.Http2;
            });
        }
    }

    private static void ConfigureKiln(ListenOptions listen)
    {
        // TLS 1.3 (and the loopback plaintext opt-out) before the protocol: see KilnTransportSecurity.
        listen.Use(listen.ApplicationServices.GetRequiredService<Security.KilnTransportSecurity>().Wrap);
        listen.UseConnectionHandler<Protocol.KilnConnectionHandler>();
    }

    private static void ConfigureDistcc(ListenOptions listen)
    {
        listen.UseConnectionHandler<Distcc.DistccConnectionHandler>();
    }
}
