namespace Kiln.Server.Cache;

/// <summary>A parsed Bazel HTTP cache path: <c>[instance/](ac|cas)/&lt;64 hex&gt;</c>.</summary>
/// <param name="Kind">Action cache or content store.</param>
/// <param name="Hex">The 64 lowercase hex characters of the SHA-256.</param>
/// <param name="Instance">The ignored instance prefix (as bazel-remote ignores it), or empty.</param>
public readonly record struct BazelCachePath(BazelCacheKind Kind, string Hex, string Instance);
