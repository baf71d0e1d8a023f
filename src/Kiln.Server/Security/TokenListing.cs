namespace Kiln.Server.Security;

/// <summary>One token or granted certificate as <c>GET /api/tokens</c> lists it (never its secret).</summary>
public sealed record TokenListing(string Id, string Name, string Role);
