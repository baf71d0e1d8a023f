using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kiln.Core.Protocol;
using Kiln.Core.Security;
using Kiln.Server.Hosting;
using Microsoft.AspNetCore.Connections;

namespace Kiln.Server.Security;

/// <summary>
/// TLS 1.3 on the Kiln protocol listener, as Kestrel connection middleware. The node's certificate is
/// made on first start in <c>DATA/tls/node.pfx</c>; clients pin its <see cref="Fingerprint"/>. The
/// handshake asks for a client certificate (optional), whose fingerprint it hands on as
/// <see cref="PeerCertificateFeature"/>. The first byte of a connection tells TLS (a handshake record,
/// 0x16) from a plaintext Kiln frame: plaintext is served only with
/// <see cref="KilnNodeOptions.PlaintextLoopback"/> and only to loopback peers; anyone else gets a
/// plaintext ERROR frame that says the node speaks TLS, and is audited.
/// </summary>
public sealed class KilnTransportSecurity
{
    /// <summary>The first byte of every TLS connection: a handshake record.</summary>
    private const byte TlsHandshakeRecord = 0x16;

    private readonly KilnNodeOptions _options;
    private readonly AuditLog _audit;
    private readonly SslStreamCertificateContext _context;

    /// <summary>Loads or makes the node's certificate.</summary>
    public KilnTransportSecurity(KilnNodeOptions options, AuditLog audit)
    {
        _options = options;
        HandshakeTimeout = options.KilnProtocol.HandshakeTimeout;
        _audit = audit;
        Certificate = NodeCertificate.LoadOrCreate(options.DataDirectory, options.NodeName, out var created);
        CertificateCreated = created;
        Fingerprint = NodeCertificate.Fingerprint(Certificate);
        _context = SslStreamCertificateContext.Create(Certificate, additionalCertificates: null, offline: true);
    }

    /// <summary>The node's certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>True when this start made the certificate.</summary>
    public bool CertificateCreated { get; }

    /// <summary>SHA-256 of the certificate, 64 lowercase hex characters: what clients pin with <c>,fp=</c>.</summary>
    public string Fingerprint { get; }

    /// <summary>Longest wait for the first byte and the whole TLS handshake: the session's HELLO timeout.</summary>
    public TimeSpan HandshakeTimeout { get; }

    /// <summary>The middleware for <c>ListenOptions.Use</c>.</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => OnConnectedAsync(connection, next);

    private async Task OnConnectedAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var peer = connection.RemoteEndPoint as IPEndPoint;
        var address = connection.RemoteEndPoint?.ToString() ?? connection.ConnectionId;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        deadline.CancelAfter(HandshakeTimeout);

        var input = connection.Transport.Input;
        var plaintextAllowed = _options.PlaintextLoopback && NodeAuthenticator.IsLoopback(peer?.Address);
        byte first;
        try
        {
            var peek = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            if (peek.Buffer.IsEmpty)
            {
                input.AdvanceTo(peek.Buffer.Start);
                return;
            }

            first = peek.Buffer.FirstSpan[0];
            // Nothing is consumed: the TLS layer or the session reads these bytes again.
            input.AdvanceTo(peek.Buffer.Start);
        }
        catch (OperationCanceledException) when (!connection.ConnectionClosed.IsCancellationRequested)
        {
            if (plaintextAllowed)
            {
                // A silent plaintext peer: the session's own HELLO timeout answers it with ERROR.
                await next(connection).ConfigureAwait(false);
                return;
            }

            _audit.Record(new AuditEvent("kiln", "tls", AuditEvent.Refused, null, address, $"nothing sent within {HandshakeTimeout.TotalSeconds:0.#} s of connecting"));
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (first != TlsHandshakeRecord)
        {
            if (plaintextAllowed)
            {
                await next(connection).ConfigureAwait(false);
                return;
            }

            const string Reason = "plaintext connection: this node speaks the Kiln protocol over TLS 1.3 only (plaintext is served only to loopback peers of a node started with --plaintext-loopback)";
            _audit.Record(new AuditEvent("kiln", "connect", AuditEvent.Refused, null, address, Reason));
            new KilnError(KilnErrorCode.Unauthorized, Reason).WriteFrame(connection.Transport.Output);
            await connection.Transport.Output.FlushAsync(connection.ConnectionClosed).ConfigureAwait(false);
            return;
        }

        var tls = new SslStream(new PipeDuplexStream(connection.Transport), leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _context,
                EnabledSslProtocols = SslProtocols.Tls13,
                // Asked for, not required: a client may prove itself with a token in HELLO instead.
                ClientCertificateRequired = true,
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            }, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
        {
            _audit.Record(new AuditEvent("kiln", "tls", AuditEvent.Refused, null, address, $"TLS handshake failed: {e.Message}"));
            await tls.DisposeAsync().ConfigureAwait(false);
            return;
        }

        connection.Features.Set(new PeerCertificateFeature(tls.RemoteCertificate is { } client ? NodeCertificate.Fingerprint(client) : null));
        var plain = connection.Transport;
        var secure = new StreamDuplexPipe(tls);
        connection.Transport = secure;
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            connection.Transport = plain;
            await secure.Input.CompleteAsync().ConfigureAwait(false);
            try
            {
                await secure.Output.CompleteAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                // The peer is gone; what was left unsent cannot be sent.
            }

            await tls.DisposeAsync().ConfigureAwait(false);
        }
    }
}
