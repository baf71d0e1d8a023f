namespace Kiln.Server.Cache;

/// <summary>Which half of the Bazel HTTP cache a path names.</summary>
public enum BazelCacheKind
{
    /// <summary><c>/ac/&lt;sha256&gt;</c>: an ActionResult keyed by the action's digest.</summary>
    ActionCache,

    /// <summary><c>/cas/&lt;sha256&gt;</c>: a blob keyed by the SHA-256 of its own bytes.</summary>
    ContentStore,
}
