using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

public sealed class FileContentStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-cas");

    private FileContentStore Open(long capacity = ContentStoreOptions.DefaultCapacityBytes, long? maxBlob = null) =>
        FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path, CapacityBytes = capacity, MaxBlobBytes = maxBlob });

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task PutThenReadReturnsTheSameBytesFromTheShardedPath()
    {
        using var store = Open();
        var bytes = Bytes(1, 300_000);
        var digest = Digest.FromBytes(bytes);

        var put = await store.PutAsync(digest, new MemoryStream(bytes), CancellationToken.None);

        Assert.Equal(PutStatus.Stored, put.Status);
        Assert.Equal(digest, put.Digest);
        Assert.Equal(bytes, await ReadAsync(store, digest));
        Assert.True(await store.ContainsAsync(digest, CancellationToken.None));
        Assert.Equal(Path.Combine(_dir.Path, "cas", digest.Hex[..2], digest.Hex), store.BlobPath(digest));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(store.BlobPath(digest)));
        Assert.Empty(TempFiles(_dir.Path));
        var stats = store.GetStatistics();
        Assert.Equal(1, stats.BlobCount);
        Assert.Equal(bytes.Length, stats.SizeBytes);
    }

    [Fact]
    public async Task PutWithoutADigestComputesIt()
    {
        using var store = Open();
        var bytes = Bytes(2, 70_000);

        var put = await store.PutAsync(new MemoryStream(bytes), CancellationToken.None);

        Assert.Equal(PutStatus.Stored, put.Status);
        Assert.Equal(Digest.FromBytes(bytes), put.Digest);
        Assert.Equal(bytes, await ReadAsync(store, put.Digest));
    }

    [Fact]
    public async Task TheEmptyBlobIsAlwaysPresent()
    {
        using var store = Open();

        Assert.True(await store.ContainsAsync(Digest.Empty, CancellationToken.None));
        Assert.Equal(Array.Empty<byte>(), await ReadAsync(store, Digest.Empty));
        Assert.Empty(await store.FindMissingAsync([Digest.Empty], CancellationToken.None));
        var put = await store.PutAsync(Digest.Empty, new MemoryStream(), CancellationToken.None);
        Assert.Equal(PutStatus.AlreadyPresent, put.Status);
        var wrong = await store.PutAsync(Digest.Empty, new MemoryStream([1]), CancellationToken.None);
        Assert.Equal(PutStatus.SizeMismatch, wrong.Status);
    }

    [Fact]
    public async Task ADigestMismatchStoresNothing()
    {
        using var store = Open();
        var claimed = Digest.FromBytes(Bytes(3, 50_000));
        var sent = Bytes(4, 50_000);

        var put = await store.PutAsync(claimed, new MemoryStream(sent), CancellationToken.None);

        Assert.Equal(PutStatus.DigestMismatch, put.Status);
        Assert.Contains(Digest.FromBytes(sent).Hex, put.Message);
        Assert.False(put.Ok);
        Assert.False(await store.ContainsAsync(claimed, CancellationToken.None));
        Assert.False(await store.ContainsAsync(Digest.FromBytes(sent), CancellationToken.None));
        Assert.False(File.Exists(store.BlobPath(claimed)));
        Assert.Empty(TempFiles(_dir.Path));
        Assert.Equal(0, store.GetStatistics().BlobCount);
    }

    [Fact]
    public async Task AShortStreamIsASizeMismatch()
    {
        using var store = Open();
        var bytes = Bytes(5, 200_000);
        var digest = Digest.FromBytes(bytes);

        var put = await store.PutAsync(digest, new MemoryStream(bytes, 0, 150_000), CancellationToken.None);

        Assert.Equal(PutStatus.SizeMismatch, put.Status);
        Assert.Contains("ended after 150000 of its declared 200000 bytes", put.Message);
        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
        Assert.Empty(TempFiles(_dir.Path));
    }

    [Fact]
    public async Task ALongStreamIsASizeMismatchAndIsNotReadToTheEnd()
    {
        using var store = Open();
        var bytes = Bytes(6, 200_000);
        var digest = Digest.FromBytes(bytes.AsSpan(0, 100_000));
        var stream = new MemoryStream(bytes);

        var put = await store.PutAsync(digest, stream, CancellationToken.None);

        Assert.Equal(PutStatus.SizeMismatch, put.Status);
        Assert.Contains("went past its declared size of 100000 bytes", put.Message);
        Assert.Equal(100_001, stream.Position);
        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
        Assert.Empty(TempFiles(_dir.Path));
    }

    [Fact]
    public async Task AnOverSizeBlobIsTooLargeBeforeAnyByteIsRead()
    {
        using var store = Open(capacity: 1 << 20, maxBlob: 64 * 1024);
        var bytes = Bytes(7, 100_000);
        var stream = new MemoryStream(bytes);

        var declared = await store.PutAsync(Digest.FromBytes(bytes), stream, CancellationToken.None);
        var undeclared = await store.PutAsync(new MemoryStream(bytes), CancellationToken.None);

        Assert.Equal(PutStatus.TooLarge, declared.Status);
        Assert.Contains("at most 65536 bytes", declared.Message);
        Assert.Equal(0, stream.Position);
        Assert.Equal(PutStatus.TooLarge, undeclared.Status);
        Assert.Equal(0, store.GetStatistics().BlobCount);
        Assert.Empty(TempFiles(_dir.Path));
    }

    [Fact]
    public async Task ASecondPutIsAlreadyPresentAndAWrongLengthRePutLeavesTheBlobIntact()
    {
        using var store = Open();
        var bytes = Bytes(8, 40_000);
        var digest = await PutAsync(store, bytes);

        var again = await store.PutAsync(digest, new MemoryStream(bytes), CancellationToken.None);
        var shortAgain = await store.PutAsync(digest, new MemoryStream(bytes, 0, 10), CancellationToken.None);

        Assert.Equal(PutStatus.AlreadyPresent, again.Status);
        Assert.Equal(PutStatus.SizeMismatch, shortAgain.Status);
        Assert.Equal(bytes, await ReadAsync(store, digest));
        Assert.Equal(1, store.GetStatistics().BlobCount);
    }

    [Fact]
    public async Task ConcurrentPutsOfOneBlobStoreItOnce()
    {
        using var store = Open();
        var bytes = Bytes(9, 1 << 20);
        var digest = Digest.FromBytes(bytes);

        var puts = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ =>
            Task.Run(async () => await store.PutAsync(digest, new MemoryStream(bytes), CancellationToken.None))));

        Assert.All(puts, p => Assert.True(p.Ok, p.Message));
        Assert.Single(puts, p => p.Status == PutStatus.Stored);
        Assert.Equal(bytes, await ReadAsync(store, digest));
        Assert.Equal(1, store.GetStatistics().BlobCount);
        Assert.Equal(bytes.Length, store.GetStatistics().SizeBytes);
        Assert.Empty(TempFiles(_dir.Path));
    }

    [Fact]
    public async Task FindMissingIsExact()
    {
        using var store = Open();
        var a = await PutAsync(store, Bytes(10, 1000));
        var b = await PutAsync(store, Bytes(11, 2000));
        var absent = Digest.FromBytes(Bytes(12, 3000));
        Span<byte> hash = stackalloc byte[Digest.HashLength];
        a.WriteHash(hash);
        var wrongSize = Digest.FromHash(hash, a.Size + 1);

        var missing = await store.FindMissingAsync([a, absent, Digest.Empty, b, wrongSize, absent], CancellationToken.None);

        Assert.Equal([absent, wrongSize], missing);
        Assert.Empty(await store.FindMissingAsync([a, b], CancellationToken.None));
        Assert.False(await store.ContainsAsync(wrongSize, CancellationToken.None));
    }

    [Fact]
    public async Task FindMissingOverManyBatchesIsExact()
    {
        using var store = Open();
        var present = new List<Digest>();
        var asked = new List<Digest>();
        var expectedMissing = new List<Digest>();
        for (var i = 0; i < 600; i++)
        {
            var bytes = Bytes(1000 + i, 64);
            if (i % 3 == 0)
            {
                present.Add(await PutAsync(store, bytes));
                asked.Add(present[^1]);
            }
            else
            {
                var d = Digest.FromBytes(bytes);
                asked.Add(d);
                expectedMissing.Add(d);
            }
        }

        var missing = await store.FindMissingAsync(asked, CancellationToken.None);

        Assert.Equal(expectedMissing, missing);
    }

    [Fact]
    public async Task EvictionRemovesTheLeastRecentlyUsedBlobsFirst()
    {
        using var store = Open(capacity: 10_000);
        var a = await PutAsync(store, Bytes(20, 3000));
        var b = await PutAsync(store, Bytes(21, 3000));
        var c = await PutAsync(store, Bytes(22, 3000));
        Assert.True(await store.ContainsAsync(a, CancellationToken.None)); // a is now more recent than b and c

        var d = await PutAsync(store, Bytes(23, 3000)); // 12 000 bytes > 10 000: b goes

        Assert.Equal([b], await store.FindMissingAsync([a, b, c, d], CancellationToken.None));
        Assert.False(File.Exists(store.BlobPath(b)));
        (await store.OpenReadAsync(d, CancellationToken.None))!.Dispose(); // d, then c is the oldest
        Assert.NotNull(await ReadAsync(store, a));

        var e = await PutAsync(store, Bytes(24, 3000)); // c goes

        Assert.Equal([b, c], await store.FindMissingAsync([a, b, c, d, e], CancellationToken.None));
        var stats = store.GetStatistics();
        Assert.Equal(3, stats.BlobCount);
        Assert.Equal(9000, stats.SizeBytes);
        Assert.Equal(2, stats.Evictions);
        Assert.Equal(3, AssertEveryFileMatchesItsName(_dir.Path));
    }

    [Fact]
    public async Task ABlobLargerThanTheFreeRoomEvictsSeveralAndNeverItself()
    {
        using var store = Open(capacity: 10_000);
        var small = new List<Digest>();
        for (var i = 0; i < 5; i++)
        {
            small.Add(await PutAsync(store, Bytes(30 + i, 2000)));
        }

        var big = await PutAsync(store, Bytes(40, 9000));

        Assert.Equal(small, await store.FindMissingAsync([.. small, big], CancellationToken.None));
        Assert.Equal(9000, store.GetStatistics().SizeBytes);
    }

    [Fact]
    public async Task AReaderNeverSeesAPartialBlob()
    {
        using var store = Open();
        var bytes = Bytes(50, 1 << 20);
        var digest = Digest.FromBytes(bytes);
        var stream = new PausingStream(bytes, pauseAt: 600_000);

        var put = store.PutAsync(digest, stream, CancellationToken.None).AsTask();
        await stream.Paused.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
        Assert.Null(await store.OpenReadAsync(digest, CancellationToken.None));
        Assert.False(File.Exists(store.BlobPath(digest)));
        Assert.Single(TempFiles(_dir.Path));

        stream.Resume();
        Assert.Equal(PutStatus.Stored, (await put.WaitAsync(TimeSpan.FromSeconds(30))).Status);
        Assert.Equal(bytes, await ReadAsync(store, digest));
    }

    [Fact]
    public async Task ACancelledWriteLeavesNoTemporaryFile()
    {
        using var store = Open();
        var bytes = Bytes(51, 500_000);
        var digest = Digest.FromBytes(bytes);
        var stream = new PausingStream(bytes, pauseAt: 100_000);
        using var cts = new CancellationTokenSource();

        var put = store.PutAsync(digest, stream, cts.Token).AsTask();
        await stream.Paused.WaitAsync(TimeSpan.FromSeconds(30));
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put);
        Assert.Empty(TempFiles(_dir.Path));
        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task AnOpenReaderKeepsReadingAnEvictedBlob()
    {
        using var store = Open(capacity: 5000);
        var bytes = Bytes(52, 4000);
        var digest = await PutAsync(store, bytes);
        await using var reader = await store.OpenReadAsync(digest, CancellationToken.None);

        await PutAsync(store, Bytes(53, 4000)); // evicts the open blob

        Assert.False(await store.ContainsAsync(digest, CancellationToken.None));
        var copy = new MemoryStream();
        await reader!.CopyToAsync(copy);
        Assert.Equal(bytes, copy.ToArray());
    }

    [Fact]
    public async Task BlobsAndAccessOrderSurviveAReopen()
    {
        Digest a, b;
        using (var store = Open())
        {
            a = await PutAsync(store, Bytes(60, 5000));
            b = await PutAsync(store, Bytes(61, 6000));
            await store.ContainsAsync(a, CancellationToken.None);
        }

        using (var store = Open(capacity: 8000))
        {
            // Reopening under a smaller cap evicts the least recently used: b.
            Assert.Equal(1, store.Recovery.BlobsEvicted);
            Assert.Equal([b], await store.FindMissingAsync([a, b], CancellationToken.None));
            Assert.Equal(Bytes(60, 5000), await ReadAsync(store, a));
        }
    }
}
