namespace Kiln.Server.Cache;

/// <summary>The cache front ends' counters, one set per front end (a singleton in the node's services).</summary>
public sealed class CacheCounters
{
    /// <summary>ccache remote storage under <c>/ccache/</c>.</summary>
    public CacheFrontEndCounters Ccache { get; } = new();

    /// <summary>The Bazel action cache under <c>/bazel/ac/</c>.</summary>
    public CacheFrontEndCounters BazelActionCache { get; } = new();

    /// <summary>The Bazel content store under <c>/bazel/cas/</c>.</summary>
    public CacheFrontEndCounters BazelContentStore { get; } = new();

    /// <summary>Compile results looked up by ActionKey on the Kiln protocol listener (hits are RESULTs answered from the cache).</summary>
    public CacheFrontEndCounters Kiln { get; } = new();

    /// <summary>Compile results looked up on the distcc listener (the transparent cache for stock distcc clients).</summary>
    public CacheFrontEndCounters Distcc { get; } = new();
}
