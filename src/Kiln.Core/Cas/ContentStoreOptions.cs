namespace Kiln.Core.Cas;

/// <summary>Where a <see cref="FileContentStore"/> keeps its data and how large it may grow.</summary>
public sealed class ContentStoreOptions
{
    /// <summary>Ten gibibytes: the default size cap.</summary>
    public const long DefaultCapacityBytes = 10L << 30;

    /// <summary>
    /// The store's root: blobs go under <c>cas/</c>, writes in progress under <c>tmp/</c>, the index is
    /// <c>index.sqlite</c>. Other features may share the directory (a node keeps <c>jobs/</c> beside them).
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>The size cap in bytes: above it the least recently used blobs are evicted.</summary>
    public long CapacityBytes { get; init; } = DefaultCapacityBytes;

    /// <summary>The largest blob accepted; null means the capacity (a blob must fit in the store).</summary>
    public long? MaxBlobBytes { get; init; }

    /// <summary>
    /// Bytes of small blobs kept in memory once read (<see cref="SmallBlobCache"/>), so that a hit on
    /// one reads no file; 0 turns it off. Default 64 MiB.
    /// </summary>
    public long MemoryCacheBytes { get; init; } = 64L << 20;

    /// <summary>The clock for access and write times (tests pass a manual one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The largest blob accepted, as the store applies it.</summary>
    public long EffectiveMaxBlobBytes => Math.Min(MaxBlobBytes ?? CapacityBytes, CapacityBytes);
}
