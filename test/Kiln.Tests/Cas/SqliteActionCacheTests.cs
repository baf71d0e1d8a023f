using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

public sealed class SqliteActionCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-ac");
    private readonly FileContentStore _store;
    private readonly SqliteActionCache _cache;

    public SqliteActionCacheTests()
    {
        _store = FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path, CapacityBytes = 20_000 });
        _cache = new SqliteActionCache(_store);
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private NamespaceStatistics Counters(string ns) => Assert.Single(_store.GetStatistics().Namespaces, n => n.Namespace == ns);

    [Fact]
    public async Task AnEntryRoundTripsWithItsWriterAndTime()
    {
        var value = await PutAsync(_store, Bytes(1, 100));
        var output = await PutAsync(_store, Bytes(2, 200));
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        Assert.True(await _cache.PutAsync("bazel", "k1", new ActionEntry(value, [output, Digest.Empty]), "10.0.0.7", CancellationToken.None));
        var entry = await _cache.GetAsync("bazel", "k1", CancellationToken.None);

        Assert.NotNull(entry);
        Assert.Equal(value, entry.Value);
        Assert.Equal([output, Digest.Empty], entry.References);
        Assert.Equal("10.0.0.7", entry.Writer);
        Assert.InRange(entry.Written, before, DateTimeOffset.UtcNow.AddSeconds(1));
        var counters = Counters("bazel");
        Assert.Equal((1L, 0L, 1L, 1L, 300L, 300L), (counters.Entries, counters.Misses, counters.Hits, counters.Puts, counters.BytesWritten, counters.BytesServed));
    }

    [Fact]
    public async Task HitsWriteNothingAtOnceAndTheirCountsAndAccessTimesSurviveAClose()
    {
        var value = await PutAsync(_store, Bytes(9, 100));
        Assert.True(await _cache.PutAsync("ccache", "hot", new ActionEntry(value, []), "test", CancellationToken.None));
        _ = Counters("ccache"); // flushes what the put left pending
        var wal = new FileInfo(Path.Combine(_dir.Path, "index.sqlite-wal"));
        wal.Refresh();
        var walBefore = wal.Exists ? wal.Length : 0;
        var touchedBefore = _store.LastAccess(value);

        // Well inside the flush interval and below the batch size: nothing reaches SQLite yet.
        for (var i = 0; i < 100; i++)
        {
            Assert.NotNull(await _cache.GetAsync("ccache", "hot", CancellationToken.None));
        }

        wal.Refresh();
        Assert.Equal(walBefore, wal.Exists ? wal.Length : 0);

        // Closing writes them: the reopened store has every hit and the newer access time.
        _store.Dispose();
        using var reopened = FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path, CapacityBytes = 20_000 });
        var counters = Assert.Single(reopened.GetStatistics().Namespaces, n => n.Namespace == "ccache");
        Assert.Equal((100L, 1L), (counters.Hits, counters.Puts));
        Assert.True(reopened.LastAccess(value) > touchedBefore);
    }

    [Fact]
    public async Task AnAbsentKeyIsACountedMiss()
    {
        Assert.Null(await _cache.GetAsync("ccache", "nothing", CancellationToken.None));
        Assert.Null(await _cache.GetAsync("ccache", "nothing", CancellationToken.None));

        var counters = Counters("ccache");
        Assert.Equal((0L, 2L, 0L), (counters.Hits, counters.Misses, counters.Entries));
    }

    [Fact]
    public async Task APutOverwritesTheEntryAsCcacheManifestsNeed()
    {
        var first = await PutAsync(_store, Bytes(3, 100));
        var second = await PutAsync(_store, Bytes(4, 120));

        Assert.True(await _cache.PutAsync("ccache", "manifest", new ActionEntry(first, []), "alice", CancellationToken.None));
        Assert.True(await _cache.PutAsync("ccache", "manifest", new ActionEntry(second, []), "bob", CancellationToken.None));
        var entry = await _cache.GetAsync("ccache", "manifest", CancellationToken.None);

        Assert.Equal(second, entry!.Value);
        Assert.Equal("bob", entry.Writer);
        Assert.Equal(1, Counters("ccache").Entries);
        Assert.Equal(2, Counters("ccache").Puts);
    }

    [Fact]
    public async Task NamespacesKeepEqualKeysApart()
    {
        var a = await PutAsync(_store, Bytes(5, 10));
        var b = await PutAsync(_store, Bytes(6, 10));
        await _cache.PutAsync("ccache", "same", new ActionEntry(a, []), "w", CancellationToken.None);
        await _cache.PutAsync("bazel", "same", new ActionEntry(b, []), "w", CancellationToken.None);

        Assert.Equal(a, (await _cache.GetAsync("ccache", "same", CancellationToken.None))!.Value);
        Assert.Equal(b, (await _cache.GetAsync("bazel", "same", CancellationToken.None))!.Value);
        Assert.Null(await _cache.GetAsync("kiln", "same", CancellationToken.None));
    }

    [Fact]
    public async Task AnEntryWhoseReferencedBlobIsEvictedIsAMiss()
    {
        var value = await PutAsync(_store, Bytes(7, 1000));
        var output = await PutAsync(_store, Bytes(8, 8000));
        Assert.True(await _cache.PutAsync("bazel", "k", new ActionEntry(value, [output]), "w", CancellationToken.None));
        Assert.NotNull(await _cache.GetAsync("bazel", "k", CancellationToken.None)); // touches value and output

        await PutAsync(_store, Bytes(9, 8000));
        await _store.ContainsAsync(value, CancellationToken.None); // value is now the newest of the three
        await PutAsync(_store, Bytes(10, 8000)); // 25 000 > 20 000: output, the least recently used, goes

        Assert.False(await _store.ContainsAsync(output, CancellationToken.None));
        Assert.True(await _store.ContainsAsync(value, CancellationToken.None));
        Assert.Null(await _cache.GetAsync("bazel", "k", CancellationToken.None));
        Assert.Equal((1L, 1L), (Counters("bazel").Hits, Counters("bazel").Misses));

        // The same output uploaded again completes the entry again.
        await PutAsync(_store, Bytes(8, 8000));
        Assert.NotNull(await _cache.GetAsync("bazel", "k", CancellationToken.None));
    }

    [Fact]
    public async Task AnEntryWhoseValueFileVanishedIsAMiss()
    {
        var value = await PutAsync(_store, Bytes(11, 100));
        await _cache.PutAsync("ccache", "k", new ActionEntry(value, []), "w", CancellationToken.None);

        File.Delete(_store.BlobPath(value));

        Assert.Null(await _cache.GetAsync("ccache", "k", CancellationToken.None));
        Assert.False(await _store.ContainsAsync(value, CancellationToken.None));
        Assert.Equal(0, _store.GetStatistics().BlobCount);
    }

    [Fact]
    public async Task APutThatPointsAtAbsentBlobsStoresNothing()
    {
        var value = await PutAsync(_store, Bytes(12, 100));
        var absent = Digest.FromBytes(Bytes(13, 100));

        Assert.False(await _cache.PutAsync("bazel", "k", new ActionEntry(absent, []), "w", CancellationToken.None));
        Assert.False(await _cache.PutAsync("bazel", "k", new ActionEntry(value, [absent]), "w", CancellationToken.None));
        Assert.Null(await _cache.GetAsync("bazel", "k", CancellationToken.None));
        Assert.Equal(0, Counters("bazel").Puts);
    }

    [Fact]
    public async Task DeleteRemovesTheEntryOnce()
    {
        var value = await PutAsync(_store, Bytes(14, 100));
        await _cache.PutAsync("ccache", "k", new ActionEntry(value, []), "w", CancellationToken.None);

        Assert.True(await _cache.DeleteAsync("ccache", "k", CancellationToken.None));
        Assert.False(await _cache.DeleteAsync("ccache", "k", CancellationToken.None));
        Assert.Null(await _cache.GetAsync("ccache", "k", CancellationToken.None));
        Assert.True(await _store.ContainsAsync(value, CancellationToken.None));
    }

    [Fact]
    public async Task EntriesAndCountersSurviveAReopen()
    {
        var value = await PutAsync(_store, Bytes(15, 100));
        await _cache.PutAsync("ccache", "k", new ActionEntry(value, []), "carol", CancellationToken.None);
        await _cache.GetAsync("ccache", "k", CancellationToken.None);
        _store.Dispose();

        using var reopened = FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path });
        var entry = await new SqliteActionCache(reopened).GetAsync("ccache", "k", CancellationToken.None);

        Assert.Equal("carol", entry!.Writer);
        var counters = Assert.Single(reopened.GetStatistics().Namespaces);
        Assert.Equal((2L, 1L), (counters.Hits, counters.Puts));
    }

    [Fact]
    public async Task InvalidNamesAreRejectedAsBugs()
    {
        var value = await PutAsync(_store, Bytes(16, 10));

        await Assert.ThrowsAsync<ArgumentException>(async () => await _cache.GetAsync("", "k", CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(async () => await _cache.GetAsync("ns", new string('k', 2000), CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(async () => await _cache.PutAsync(new string('n', 100), "k", new ActionEntry(value, []), "w", CancellationToken.None));
    }
}
