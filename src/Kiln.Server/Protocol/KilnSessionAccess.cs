using System.Net;
using Kiln.Core.Security;
using Kiln.Server.Security;

namespace Kiln.Server.Protocol;

/// <summary>
/// What one Kiln protocol session knows about its peer for authentication and audit: the node's
/// authenticator, the client certificate's fingerprint, the peer's address, and the audit log.
/// </summary>
public sealed class KilnSessionAccess
{
    private readonly NodeAuthenticator? _authenticator;
    private readonly Identity? _trusted;

    private KilnSessionAccess(NodeAuthenticator? authenticator, Identity? trusted, AuditLog audit, string listener, IPAddress? address, string peer, string? certificateFingerprint)
    {
        _authenticator = authenticator;
        _trusted = trusted;
        Audit = audit;
        Listener = listener;
        Address = address;
        Peer = peer;
        CertificateFingerprint = certificateFingerprint;
    }

    /// <summary>The audit log.</summary>
    public AuditLog Audit { get; }

    /// <summary>The listener's name in the audit log.</summary>
    public string Listener { get; }

    /// <summary>The peer's address, when it has one.</summary>
    public IPAddress? Address { get; }

    /// <summary>The peer as the audit log names it (address and port).</summary>
    public string Peer { get; }

    /// <summary>The TLS client certificate's fingerprint, or null.</summary>
    public string? CertificateFingerprint { get; }

    /// <summary>A network peer: HELLO's token or the client certificate decides who it is.</summary>
    public static KilnSessionAccess Network(NodeAuthenticator authenticator, AuditLog audit, IPAddress? address, string peer, string? certificateFingerprint) =>
        new(authenticator, null, audit, "kiln", address, peer, certificateFingerprint);

    /// <summary>
    /// A peer already authenticated by its transport (ssh mode: OpenSSH checked the user's key and
    /// runs <c>kiln serve --stdio</c> as that user), with the identity given.
    /// </summary>
    public static KilnSessionAccess Trusted(Identity identity, AuditLog audit, string listener, string peer) =>
        new(null, identity, audit, listener, null, peer, null);

    /// <summary>Decides who sent HELLO with <paramref name="token"/>.</summary>
    public Authentication Authenticate(string token) =>
        _trusted is not null ? Authentication.Of(_trusted) : _authenticator!.Authenticate(token, CertificateFingerprint, Address);

    /// <summary>Appends an event for this peer to the audit log.</summary>
    public void Record(string action, string outcome, Identity? identity, string reason) =>
        Audit.Record(new AuditEvent(Listener, action, outcome, identity, Peer, reason));
}
