namespace Kiln.Server.Accounting;

/// <summary>Cache answers and jobs in one sampling interval, for the hit-rate chart.</summary>
/// <param name="TimeMs">The end of the interval, in milliseconds since 1970.</param>
/// <param name="Hits">Cache hits in the interval (ccache, Bazel action cache, compile jobs answered from the cache).</param>
/// <param name="Misses">Cache misses in the interval.</param>
/// <param name="Jobs">Jobs finished in the interval.</param>
public sealed record HitRatePoint(long TimeMs, long Hits, long Misses, long Jobs);
