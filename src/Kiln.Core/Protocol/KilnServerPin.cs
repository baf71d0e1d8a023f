using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Kiln.Core.Hosts;
using Kiln.Core.Security;

namespace Kiln.Core.Protocol;

/// <summary>
/// Checks a node's TLS certificate during the handshake. Nodes have self-signed certificates (there is
/// no CA in a build farm of strangers), so chain errors are expected and ignored; what counts is the
/// certificate's SHA-256 fingerprint: the host list's <c>,fp=</c> pin, else the known-hosts entry,
/// else (with a known-hosts file) trust on first use. <c>pinnedBy</c> says where a pin came from in a refusal.
/// </summary>
internal sealed class KilnServerPin(HostSpec host, KnownHosts? knownHosts, string pinnedBy = "KILN_HOSTS pins")
{
    /// <summary>The node as the known-hosts file names it: HOST:PORT.</summary>
    public string Node { get; } = host.Display;

    /// <summary>Why the certificate was refused, or null.</summary>
    public string? Refusal { get; private set; }

    /// <summary>The fingerprint to record when the node was met for the first time, or null.</summary>
    public string? FirstUse { get; private set; }

    /// <summary>The <see cref="RemoteCertificateValidationCallback"/>.</summary>
    public bool Check(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            Refusal = "the node presented no TLS certificate";
            return false;
        }

        var presented = NodeCertificate.Fingerprint(certificate);
        if (host.Fingerprint is { } pinned)
        {
            if (pinned == presented)
            {
                return true;
            }

            Refusal = $"REFUSED: the node's certificate has fingerprint {presented}, but {pinnedBy} {pinned}. " +
                "Either the node made a new certificate or someone is impersonating it; nothing was sent.";
            return false;
        }

        if (knownHosts is null)
        {
            Refusal = $"no fingerprint pinned for this node (its certificate is {presented}); add ',fp={presented}' to its KILN_HOSTS entry after checking it";
            return false;
        }

        var known = knownHosts.Lookup(Node);
        if (known is null)
        {
            FirstUse = presented;
            return true;
        }

        if (known == presented)
        {
            return true;
        }

        Refusal = $"REFUSED: the node's certificate has fingerprint {presented}, but {knownHosts.Path} recorded {known} for it. " +
            "Either the node made a new certificate or someone is impersonating it; nothing was sent. " +
            $"If the change is expected, delete its line from {knownHosts.Path}.";
        return false;
    }
}
