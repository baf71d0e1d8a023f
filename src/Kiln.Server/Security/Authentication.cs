using Kiln.Core.Security;

namespace Kiln.Server.Security;

/// <summary>Who a peer proved to be, or why the node does not accept it.</summary>
/// <param name="Identity">The peer's identity, or null when refused.</param>
/// <param name="Refusal">Why the peer is refused, in words a person can act on; null when accepted.</param>
public readonly record struct Authentication(Identity? Identity, string? Refusal)
{
    /// <summary>True when the peer has an identity.</summary>
    public bool Accepted => Identity is not null;

    /// <summary>An accepted peer.</summary>
    public static Authentication Of(Identity identity) => new(identity, null);

    /// <summary>A refused peer.</summary>
    public static Authentication Refuse(string reason) => new(null, reason);
}
