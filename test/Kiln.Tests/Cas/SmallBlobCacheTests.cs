using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

/// <summary>
/// <see cref="FileContentStore.ReadSmall"/> and the memory it keeps: a small blob read once is served
/// from memory with no file opened, within a byte budget; a blob the store evicts or forgets is gone
/// from memory too, so memory never turns a miss into a hit; a file shorter than its record reads as
/// absent; concurrent readers and writers under eviction only ever get a blob's own bytes.
/// </summary>
public sealed class SmallBlobCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-small");

    public void Dispose() => _dir.Dispose();

    private FileContentStore Open(long capacity = ContentStoreOptions.DefaultCapacityBytes, long memory = 64L << 20) =>
        FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path, CapacityBytes = capacity, MemoryCacheBytes = memory });

    private static async Task<Digest> PutAsync(FileContentStore store, byte[] bytes)
    {
        var put = await store.PutAsync(new MemoryStream(bytes), CancellationToken.None);
        Assert.Equal(PutStatus.Stored, put.Status);
        return put.Digest;
    }

    [Fact]
    public async Task A_small_blob_read_once_comes_from_memory_after()
    {
        using var store = Open();
        var bytes = Bytes(1, 1024);
        var digest = await PutAsync(store, bytes);
        Assert.Equal(0, store.MemoryCachedBytes);

        Assert.Equal(bytes, store.ReadSmall(digest));
        Assert.Equal(1024, store.MemoryCachedBytes);

        // The file is gone behind the store's back: the bytes in memory are still the blob's, so the
        // second read gives them without opening anything.
        File.Delete(store.BlobPath(digest));
        Assert.Equal(bytes, store.ReadSmall(digest));
        Assert.Equal(Array.Empty<byte>(), store.ReadSmall(Digest.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.ReadSmall(Digest.FromBytes(Bytes(2, FileContentStore.SmallBlobBytes + 1))));
    }

    [Fact]
    public async Task Memory_stays_within_its_budget_and_can_be_turned_off()
    {
        using (var store = Open(memory: 3 * 1024))
        {
            var digests = new List<Digest>();
            for (var i = 0; i < 5; i++)
            {
                digests.Add(await PutAsync(store, Bytes(10 + i, 1024)));
            }

            foreach (var digest in digests)
            {
                Assert.NotNull(store.ReadSmall(digest));
            }

            Assert.Equal(3 * 1024, store.MemoryCachedBytes);
        }

        using var off = Open(memory: 0);
        var one = await PutAsync(off, Bytes(20, 1024));
        Assert.NotNull(off.ReadSmall(one));
        Assert.Equal(0, off.MemoryCachedBytes);
    }

    [Fact]
    public async Task A_blob_the_store_evicts_is_gone_from_memory_too()
    {
        using var store = Open(capacity: 3000);
        var first = await PutAsync(store, Bytes(30, 1000));
        Assert.NotNull(store.ReadSmall(first));
        Assert.Equal(1000, store.MemoryCachedBytes);

        // Two more blobs push the store over its cap: the least recently used one (the first) goes.
        await PutAsync(store, Bytes(31, 1000));
        await PutAsync(store, Bytes(32, 1500));

        Assert.Equal(0, store.MemoryCachedBytes);
        Assert.False(await store.ContainsAsync(first, CancellationToken.None));
        Assert.Null(store.ReadSmall(first));
    }

    [Fact]
    public async Task A_file_shorter_than_its_record_reads_as_absent_and_is_forgotten()
    {
        using var store = Open();
        var digest = await PutAsync(store, Bytes(40, 2048));
        File.WriteAllBytes(store.BlobPath(digest), Bytes(40, 100));

        Assert.Null(store.ReadSmall(digest));
        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
        Assert.Equal(0, store.MemoryCachedBytes);

        // Put again, it is whole and readable.
        Assert.Equal(PutStatus.Stored, (await store.PutAsync(new MemoryStream(Bytes(40, 2048)), CancellationToken.None)).Status);
        Assert.Equal(Bytes(40, 2048), store.ReadSmall(digest));
    }

    [Fact]
    public async Task Concurrent_readers_and_writers_under_eviction_only_get_a_blobs_own_bytes()
    {
        // Room for about 40 of the 200 blobs: eviction runs all the time.
        using var store = Open(capacity: 40 * 2048, memory: 20 * 2048);
        var digests = new System.Collections.Concurrent.ConcurrentDictionary<int, Digest>();
        for (var i = 0; i < 40; i++)
        {
            digests[i] = await PutAsync(store, Bytes(100 + i, 2048));
        }

        var served = 0;
        var writers = Task.Run(async () =>
        {
            for (var i = 40; i < 200; i++)
            {
                digests[i] = await PutAsync(store, Bytes(100 + i, 2048));
            }
        });
        var readers = Enumerable.Range(0, 4).Select(r => Task.Run(() =>
        {
            var random = new Random(r);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!writers.IsCompleted && DateTime.UtcNow < deadline)
            {
                if (!digests.TryGetValue(random.Next(200), out var digest))
                {
                    continue;
                }

                if (store.ReadSmall(digest) is { } bytes)
                {
                    Assert.Equal(digest, Digest.FromBytes(bytes));
                    Interlocked.Increment(ref served);
                }
            }
        })).ToArray();

        await writers;
        await Task.WhenAll(readers);
        Assert.True(served > 0, "no read was served");
        Assert.True(store.MemoryCachedBytes <= 20 * 2048);
    }
}
