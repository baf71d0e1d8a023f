using System.Text;
using Kiln.Cli.LocalCache;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.CompileCache;

/// <summary>
/// The digest cache (ccache's inode cache): a file unchanged since it was entered is only stat'ed, a
/// changed one is always hashed again whatever its modification time says, a file changed within the
/// margin is never entered, and a damaged, foreign or concurrently written table never gives a wrong
/// digest. A table opened "later" (a clock an hour ahead) stands in for a run after the margin.
/// </summary>
public sealed class DigestCacheTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-digest-cache");

    public void Dispose() => _dir.Dispose();

    private string Table => _dir.Combine("state", "file-digests");

    private static DateTime Later => DateTime.UtcNow.AddHours(1);

    private FileDigests Digests(DateTime now) => new(_dir.Path, DigestCache.Open(Table, now) ?? throw new InvalidOperationException("no digest cache"));

    private static Digest Truth(string path) => Digest.FromBytes(File.ReadAllBytes(path));

    [Fact]
    public void AnUnchangedFileIsTakenFromTheCacheWithItsDigestAndTimeMacroFlag()
    {
        var plain = _dir.Write("a.h", "#define A 1\n");
        var dated = _dir.Write("b.h", "static const char *built = __DATE__;\n");

        var first = Digests(Later);
        Assert.Equal(new FileFacts(Truth(plain), false), first.Read("a.h"));
        Assert.Equal(new FileFacts(Truth(dated), true), first.Read("b.h"));
        Assert.Equal((0, 2), first.Counts);

        var second = Digests(Later);
        Assert.Equal(new FileFacts(Truth(plain), false), second.Read("a.h"));
        Assert.Equal(new FileFacts(Truth(dated), true), second.Read(dated));
        Assert.Equal((2, 0), second.Counts);
        Assert.Equal(DigestCache.Slots, (new FileInfo(Table).Length - DigestCache.HeaderSize) / DigestCache.EntrySize);
    }

    [Fact]
    public void ARewrittenFileIsHashedAgainEvenWithTheSameSizeAndModificationTime()
    {
        var path = _dir.Write("h.h", "#define WIDTH 7\n");
        var modified = DateTime.UtcNow.AddHours(-2);
        File.SetLastWriteTimeUtc(path, modified);
        Assert.Equal(Truth(path), Digests(Later).Read("h.h").Digest);
        var cached = Digests(Later);
        Assert.Equal(Truth(path), cached.Read("h.h").Digest);
        Assert.Equal((1, 0), cached.Counts);

        // Same length, same modification time: only the change time tells, and it is enough.
        File.WriteAllText(path, "#define WIDTH 9\n");
        File.SetLastWriteTimeUtc(path, modified);
        var again = Digests(Later);
        Assert.Equal(Truth(path), again.Read("h.h").Digest);
        Assert.Equal(Digest.FromBytes("#define WIDTH 9\n"u8), again.Read("h.h").Digest);
        Assert.Equal((0, 1), again.Counts);
    }

    [Fact]
    public void AFileChangedWithinTheMarginIsNeverEntered()
    {
        _dir.Write("fresh.h", "int fresh;\n");
        var now = DateTime.UtcNow;
        Assert.Equal((0, 1), Read(now, "fresh.h"));
        Assert.Equal((0, 1), Read(now, "fresh.h"));
        var later = now + DigestCache.Margin + TimeSpan.FromSeconds(3);
        Assert.Equal((0, 1), Read(later, "fresh.h"));
        Assert.Equal((1, 0), Read(later, "fresh.h"));

        (int, int) Read(DateTime at, string name)
        {
            var digests = Digests(at);
            Assert.Equal(Truth(_dir.Combine(name)), digests.Read(name).Digest);
            return digests.Counts;
        }
    }

    [Fact]
    public void DamagedEntriesReadAsMissesAndAForeignTableIsReplaced()
    {
        var names = Enumerable.Range(0, 50).Select(i => _dir.Write($"h{i}.h", $"int v{i};\n")).ToList();
        var fill = Digests(Later);
        names.ForEach(n => fill.Read(n));

        // Scribble over every entry's bytes but the header: nothing may come back wrong.
        var bytes = File.ReadAllBytes(Table);
        var random = new Random(7);
        for (var i = DigestCache.HeaderSize; i < bytes.Length; i += 37)
        {
            bytes[i] ^= (byte)random.Next(1, 256);
        }

        File.WriteAllBytes(Table, bytes);
        var damaged = Digests(Later);
        names.ForEach(n => Assert.Equal(Truth(n), damaged.Read(n).Digest));
        Assert.Equal(0, damaged.Counts.Cached);

        // Another version's table (a different header) is replaced, not trusted.
        File.WriteAllBytes(Table, Encoding.ASCII.GetBytes("KILNDIG0 not this version"));
        var replaced = Digests(Later);
        names.ForEach(n => Assert.Equal(Truth(n), replaced.Read(n).Digest));
        Assert.Equal(DigestCache.HeaderSize + ((long)DigestCache.Slots * DigestCache.EntrySize), new FileInfo(Table).Length);
        var after = Digests(Later);
        names.ForEach(n => Assert.Equal(Truth(n), after.Read(n).Digest));
        Assert.Equal((50, 0), after.Counts);
    }

    [Fact]
    public void AnUnusableTableTurnsTheCacheOffAndFilesAreStillHashed()
    {
        Directory.CreateDirectory(Table);
        Assert.Null(DigestCache.Open(Table, Later));
        var path = _dir.Write("h.h", "int h;\n");
        var digests = new FileDigests(_dir.Path, DigestCache.Open(Table, Later));
        Assert.Equal(Truth(path), digests.Read("h.h").Digest);
        Assert.Null(digests.Read("missing.h").Digest);
        Assert.Null(DigestCache.Stat(_dir.Path));
    }

    [Fact]
    public async Task CompilesThatFindNoTableAtOnceEachGetOne()
    {
        // Every make -j compile of a fresh KILN_DIR starts without a table; none may go without.
        for (var round = 0; round < 20; round++)
        {
            var table = _dir.Combine($"race{round}", "file-digests");
            using var start = new ManualResetEventSlim();
            var opened = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            {
                start.Wait();
                return DigestCache.Open(table, Later);
            })).ToList();
            start.Set();
            Assert.All(await Task.WhenAll(opened), Assert.NotNull);
            Assert.Equal([Path.GetFileName(table)], Directory.GetFiles(Path.GetDirectoryName(table)!).Select(Path.GetFileName));
        }
    }

    [Fact]
    public async Task ConcurrentWritersNeverLeaveAWrongDigest()
    {
        // More files than one group holds, so entries evict each other while four runs race.
        var names = Enumerable.Range(0, 3000).Select(i => _dir.Write($"d{i % 10}/f{i}.h", $"int v{i} = {i * 31};\n")).ToList();
        var truth = names.ToDictionary(n => n, Truth);
        var wrong = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            for (var round = 0; round < 3; round++)
            {
                var digests = Digests(Later);
                foreach (var name in names.Skip(worker * 97).Concat(names.Take(worker * 97)))
                {
                    if (digests.Read(name).Digest != truth[name])
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
            }
        })));

        Assert.Equal(0, wrong);
        var last = Digests(Later);
        names.ForEach(n => Assert.Equal(truth[n], last.Read(n).Digest));
        Assert.True(last.Counts.Cached > names.Count / 2, $"only {last.Counts.Cached} of {names.Count} files were in the cache");
    }
}
