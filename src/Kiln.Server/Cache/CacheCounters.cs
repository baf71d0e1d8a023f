namespace Kiln.Server.Cache;

/// <summary>The HTTP cache front ends' counters, one set per front end (a singleton in the node's services).</summary>
public sealed class CacheCounters
{
    /// <summary>ccache remote storage under <c>/ccache/</c>.</summary>
    public CacheFrontEndCounters Ccache { get; } = new();

    /// <summary>The Bazel action cache under <c>/bazel/ac/</c>.</summary>
    public CacheFrontEndCounters BazelActionCache { get; } = new();

    /// <summary>The Bazel content store under <c>/bazel/cas/</c>.</summary>
    public CacheFrontEndCounters BazelContentStore { get; } = new();
}
