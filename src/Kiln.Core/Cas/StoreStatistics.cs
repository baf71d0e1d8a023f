namespace Kiln.Core.Cas;

/// <summary>A snapshot of the store: its cap, what it holds, and each action cache namespace's counters.</summary>
/// <param name="CapacityBytes">The size cap.</param>
/// <param name="SizeBytes">Bytes held in blobs.</param>
/// <param name="BlobCount">Number of blobs held (the empty blob is implicit and not counted).</param>
/// <param name="Evictions">Blobs evicted since the store was opened.</param>
/// <param name="Namespaces">Per-namespace counters, ordered by namespace.</param>
public sealed record StoreStatistics(
    long CapacityBytes,
    long SizeBytes,
    long BlobCount,
    long Evictions,
    IReadOnlyList<NamespaceStatistics> Namespaces);
