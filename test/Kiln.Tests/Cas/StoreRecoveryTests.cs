using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

/// <summary>Each state a crash (or a meddling hand) can leave, set up exactly, then one reopen.</summary>
public sealed class StoreRecoveryTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-recover");

    private FileContentStore Open() => FileContentStore.Open(new ContentStoreOptions { Directory = _dir.Path });

    public void Dispose() => _dir.Dispose();

    private string PathOf(Digest d) => Path.Combine(_dir.Path, "cas", d.Hex[..2], d.Hex);

    private void WriteFile(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task RecoveryRepairsEveryKindOfDamageAndKeepsTheRest()
    {
        Digest kept, vanished, truncated;
        using (var store = Open())
        {
            var cache = new SqliteActionCache(store);
            kept = await PutAsync(store, Bytes(1, 5000));
            vanished = await PutAsync(store, Bytes(2, 5000));
            truncated = await PutAsync(store, Bytes(3, 5000));
            Assert.True(await cache.PutAsync("ns", "needs-vanished", new ActionEntry(kept, [vanished]), "w", CancellationToken.None));
            Assert.True(await cache.PutAsync("ns", "needs-kept", new ActionEntry(kept, []), "w", CancellationToken.None));
        }

        File.Delete(PathOf(vanished));                                        // index row without a file
        File.WriteAllBytes(PathOf(truncated), Bytes(3, 5000)[..1000]);        // file shorter than its row
        var orphan = Bytes(4, 3000);
        var orphanDigest = Digest.FromBytes(orphan);
        WriteFile(PathOf(orphanDigest), orphan);                              // renamed, but the row never written
        var forged = Digest.FromBytes(Bytes(5, 100));
        WriteFile(PathOf(forged), Bytes(6, 100));                             // a file whose bytes do not match its name
        WriteFile(Path.Combine(_dir.Path, "cas", "ab", "not-a-blob"), [1, 2]); // a stray name
        WriteFile(Path.Combine(_dir.Path, "tmp", "0123.tmp"), Bytes(7, 100));  // a write in progress at the crash

        using (var store = Open())
        {
            var cache = new SqliteActionCache(store);
            Assert.Equal(new RecoveryReport(TempFilesRemoved: 1, RowsDropped: 1, FilesAdopted: 1, FilesRemoved: 3, BlobsEvicted: 0), store.Recovery);
            Assert.Equal([vanished, truncated, forged], await store.FindMissingAsync([kept, vanished, truncated, orphanDigest, forged], CancellationToken.None));
            Assert.Equal(orphan, await ReadAsync(store, orphanDigest));
            Assert.Equal(2, AssertEveryFileMatchesItsName(_dir.Path));
            Assert.Empty(TempFiles(_dir.Path));
            Assert.Equal((2L, 8000L), (store.GetStatistics().BlobCount, store.GetStatistics().SizeBytes));
            Assert.Null(await cache.GetAsync("ns", "needs-vanished", CancellationToken.None));
            Assert.NotNull(await cache.GetAsync("ns", "needs-kept", CancellationToken.None));
        }
    }

    [Fact]
    public void AStoreFromANewerSchemaIsRefusedWithAClearError()
    {
        using (Open())
        {
        }

        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir.Path, "index.sqlite")};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '99' WHERE name = 'schema'";
            cmd.ExecuteNonQuery();
        }

        var e = Assert.Throws<InvalidDataException>(Open);
        Assert.Contains("schema version 99", e.Message);
    }
}
