using System.Diagnostics;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;
using Xunit.Abstractions;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

/// <summary>
/// Kills <c>kiln debug store-write</c> (four concurrent writers) with SIGKILL at pseudo-random points,
/// round after round on one data directory, then reopens the store and checks every file and entry.
/// </summary>
public sealed class StoreCrashTests(ITestOutputHelper output)
{
    private const int Rounds = 8;

    [Theory]
    [InlineData(ContentStoreOptions.DefaultCapacityBytes, 20261121)]
    [InlineData(6L << 20, 424242)] // small: eviction runs while the writers are killed
    public async Task SigkillAtAnyPointNeverLeavesACorruptBlobOrABrokenEntry(long capacity, int seed)
    {
        using var dir = new TempDirectory("kiln-crash");
        var random = new Random(seed);
        var ackedBlobs = new HashSet<Digest>();
        var ackedEntries = new HashSet<string>();
        var tempFilesLeft = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var killAfter = random.Next(5, 150);
            var (blobs, entries, leftover) = await RunAndKillAsync(dir.Path, seed + round, capacity, killAfter);
            ackedBlobs.UnionWith(blobs);
            ackedEntries.UnionWith(entries);
            tempFilesLeft += TempFiles(dir.Path).Length;
            output.WriteLine($"round {round}: killed after {killAfter} acknowledgements; recovery on open: {leftover}; temp files now {TempFiles(dir.Path).Length}");
        }

        // Kills landed mid-write: without that the test would prove nothing about partial files.
        Assert.True(tempFilesLeft > 0, "no kill interrupted a write in progress");

        using var store = FileContentStore.Open(new ContentStoreOptions { Directory = dir.Path, CapacityBytes = capacity });
        var cache = new SqliteActionCache(store);
        output.WriteLine($"final open: {store.Recovery}; {ackedBlobs.Count} blobs and {ackedEntries.Count} entries acknowledged");

        Assert.Empty(TempFiles(dir.Path));
        var files = AssertEveryFileMatchesItsName(dir.Path);
        var stats = store.GetStatistics();
        Assert.Equal(files, stats.BlobCount);
        Assert.InRange(stats.SizeBytes, 0, capacity);
        if (capacity == ContentStoreOptions.DefaultCapacityBytes)
        {
            // Nothing was evicted, so everything acknowledged before a kill must have survived it.
            Assert.Empty(await store.FindMissingAsync([.. ackedBlobs], CancellationToken.None));
        }

        var hits = 0;
        foreach (var key in ackedEntries)
        {
            var entry = await cache.GetAsync("crash", key, CancellationToken.None);
            if (entry is null)
            {
                Assert.True(capacity < ContentStoreOptions.DefaultCapacityBytes, $"acknowledged entry {key} was lost");
                continue;
            }

            hits++;
            foreach (var blob in entry.References.Prepend(entry.Value))
            {
                var bytes = await ReadAsync(store, blob);
                Assert.NotNull(bytes);
                Assert.Equal(blob, Digest.FromBytes(bytes));
            }
        }

        Assert.True(hits > 0, "no acknowledged entry was a hit");
    }

    private async Task<(List<Digest> Blobs, List<string> Entries, string Recovery)> RunAndKillAsync(string dir, int seed, long capacity, int killAfter)
    {
        var info = new ProcessStartInfo(Tools.KilnBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "debug", "store-write", dir, seed.ToString(), "1000000", capacity.ToString() })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var blobs = new List<Digest>();
        var entries = new List<string>();
        var recovery = "";
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (blobs.Count + entries.Count < killAfter)
            {
                var line = await process.StandardOutput.ReadLineAsync(deadline.Token)
                    ?? throw new InvalidOperationException($"store-write exited early ({await stderr})");
                if (line.StartsWith("blob ", StringComparison.Ordinal))
                {
                    Assert.True(Digest.TryParse(line.AsSpan(5), out var digest), line);
                    blobs.Add(digest);
                }
                else if (line.StartsWith("entry ", StringComparison.Ordinal))
                {
                    entries.Add(line[6..]);
                }
                else if (line.StartsWith("open ", StringComparison.Ordinal))
                {
                    recovery = line[5..];
                }
                else
                {
                    Assert.Fail($"store-write: {line}");
                }
            }
        }
        finally
        {
            process.Kill(); // SIGKILL: no finally blocks, no disposal, no flush
            await process.WaitForExitAsync(CancellationToken.None);
        }

        return (blobs, entries, recovery);
    }
}
