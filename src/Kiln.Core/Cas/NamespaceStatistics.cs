namespace Kiln.Core.Cas;

/// <summary>
/// Counters of one action cache namespace, kept in the index so they survive restarts. Byte counts
/// cover every blob an entry needs (its value and its references).
/// </summary>
/// <param name="Namespace">The namespace (a front end: ccache, bazel, kiln).</param>
/// <param name="Entries">Entries stored now.</param>
/// <param name="Hits">Lookups that found a complete entry.</param>
/// <param name="Misses">Lookups that found no entry, or one whose blobs are gone.</param>
/// <param name="Puts">Entries written.</param>
/// <param name="BytesWritten">Bytes of the blobs that written entries point at.</param>
/// <param name="BytesServed">Bytes of the blobs that hits point at.</param>
public sealed record NamespaceStatistics(
    string Namespace,
    long Entries,
    long Hits,
    long Misses,
    long Puts,
    long BytesWritten,
    long BytesServed);
