using System.Globalization;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;

namespace Kiln.Cli.Debug;

/// <summary>
/// <c>kiln debug store-write DIR SEED COUNT [CAPACITY]</c> (hidden): writes COUNT pseudo-random blobs
/// and action entries into the store at DIR from four concurrent writers, printing one line per
/// acknowledged write (<c>blob HEX/SIZE</c>, <c>entry KEY</c>). The crash tests kill it with SIGKILL
/// mid-stream and check that everything it acknowledged survives and nothing partial is served.
/// </summary>
internal static class StoreWriteCommand
{
    private const int Writers = 4;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length is < 3 or > 4
            || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seed)
            || !int.TryParse(args[2], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || !TryParseCapacity(args, out var capacity))
        {
            Console.Error.WriteLine("usage: kiln debug store-write DIR SEED COUNT [CAPACITY-BYTES]");
            return 2;
        }

        using var store = FileContentStore.Open(new ContentStoreOptions { Directory = args[0], CapacityBytes = capacity });
        var cache = new SqliteActionCache(store);
        var recovery = store.Recovery;
        Console.Out.WriteLine($"open temp={recovery.TempFilesRemoved} dropped={recovery.RowsDropped} adopted={recovery.FilesAdopted} removed={recovery.FilesRemoved}");
        var writers = new Task[Writers];
        for (var w = 0; w < Writers; w++)
        {
            var writer = w;
            writers[w] = Task.Run(() => WriteAsync(store, cache, seed * Writers + writer, count / Writers));
        }

        await Task.WhenAll(writers);
        Console.Out.WriteLine("done");
        return 0;
    }

    private static async Task WriteAsync(FileContentStore store, SqliteActionCache cache, int seed, int count)
    {
        var random = new Random(seed);
        var recent = new List<Digest>();
        for (var i = 0; i < count; i++)
        {
            // Mostly small blobs, some large enough to span many copy buffers.
            var size = random.Next(10) == 0 ? random.Next(256 * 1024, 2 * 1024 * 1024) : random.Next(0, 16 * 1024);
            var bytes = new byte[size];
            random.NextBytes(bytes);
            var digest = Digest.FromBytes(bytes);
            var put = await store.PutAsync(digest, new MemoryStream(bytes, writable: false), CancellationToken.None);
            if (!put.Ok)
            {
                Console.Out.WriteLine($"failed {digest} {put.Status} {put.Message}");
                continue;
            }

            Console.Out.WriteLine($"blob {digest}");
            recent.Add(digest);
            if (recent.Count >= 3 && random.Next(3) == 0)
            {
                var key = $"k{seed}-{i}-{random.Next(4)}";
                var refs = new[] { recent[^2], recent[^3] };
                var entry = new ActionEntry(recent[^1], refs);
                if (await cache.PutAsync("crash", key, entry, $"writer{seed}", CancellationToken.None))
                {
                    Console.Out.WriteLine($"entry {key}");
                }
            }
        }
    }

    private static bool TryParseCapacity(string[] args, out long capacity)
    {
        capacity = ContentStoreOptions.DefaultCapacityBytes;
        return args.Length < 4 || (long.TryParse(args[3], NumberStyles.None, CultureInfo.InvariantCulture, out capacity) && capacity > 0);
    }
}
