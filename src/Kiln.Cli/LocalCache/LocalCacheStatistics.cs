namespace Kiln.Cli.LocalCache;

/// <summary>The local cache's counters (kept across processes) and its size now.</summary>
internal sealed record LocalCacheStatistics(
    string Directory,
    long CapacityBytes,
    long SizeBytes,
    long Results,
    long Manifests,
    long DirectHits,
    long PreprocessedHits,
    long Misses,
    long Stored);
