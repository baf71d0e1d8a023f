using System.Net;
using Kiln.Core.Security;

namespace Kiln.Server.Security;

/// <summary>
/// Turns what a peer presents (a bearer token, a TLS client certificate, its address) into an
/// <see cref="Identity"/> with a role, the same way on every listener. The rule for a fresh node:
/// while no token or certificate has been granted, loopback peers are the node's own user and get
/// admin; everyone else is refused. The first <c>kiln token create</c> ends that: from then on
/// every peer, loopback included, presents credentials.
/// </summary>
public sealed class NodeAuthenticator(TokenStore tokens)
{
    /// <summary>The identity of a loopback peer on a node that has no tokens yet.</summary>
    public static readonly Identity LocalUser = new("local", "loopback-before-first-token", Role.Admin);

    /// <summary>The node's tokens and granted certificates.</summary>
    public TokenStore Tokens { get; } = tokens;

    /// <summary>The token file inside a node's data directory.</summary>
    public static string TokenFile(string dataDirectory) => Path.Combine(dataDirectory, "tokens");

    /// <summary>Decides who the peer is.</summary>
    /// <param name="token">The bearer token presented, or null/empty for none.</param>
    /// <param name="certificateFingerprint">SHA-256 of the TLS client certificate, or null.</param>
    /// <param name="address">The peer's address, or null when unknown (never treated as loopback).</param>
    public Authentication Authenticate(string? token, string? certificateFingerprint, IPAddress? address)
    {
        if (certificateFingerprint is not null && Tokens.AuthenticateCertificate(certificateFingerprint) is { } byCertificate)
        {
            return Authentication.Of(byCertificate);
        }

        if (!string.IsNullOrEmpty(token))
        {
            return Tokens.Authenticate(token) is { } byToken
                ? Authentication.Of(byToken)
                : Authentication.Refuse("the token is not accepted (unknown, revoked or mistyped); 'kiln token list' on the node shows the valid ones");
        }

        if (Tokens.IsEmpty)
        {
            return IsLoopback(address)
                ? Authentication.Of(LocalUser)
                : Authentication.Refuse("no credentials, and this node serves only loopback clients until its first token exists: run 'kiln token create --role execute' on the node and set KILN_TOKEN");
        }

        return certificateFingerprint is null
            ? Authentication.Refuse("no credentials: present a token (KILN_TOKEN, 'Authorization: Bearer', or user:TOKEN@ in a cache URL) or a client certificate")
            : Authentication.Refuse($"client certificate {certificateFingerprint} has no role on this node: 'kiln token cert {certificateFingerprint} --role ROLE' grants one");
    }

    /// <summary>True for 127.0.0.0/8, ::1 and their IPv4-mapped forms.</summary>
    public static bool IsLoopback(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IPAddress.IsLoopback(address);
    }

    /// <summary>The role a denied request would have needed, said as the operator grants it.</summary>
    public static string RoleName(Role role) => role.ToString().ToLowerInvariant();
}
