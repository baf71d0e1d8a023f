using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// The cache of <c>kiln cc</c> on this machine, under KILN_DIR/cache. Many compiles of one build use
/// it at once, each in its own process, so it is plain files: every file is written beside its final
/// name and renamed into place (a reader sees all of it or nothing), carries a SHA-256 of its content
/// (a damaged file is a miss), and is touched on use (the size cap evicts the least recently used).
/// <list type="bullet">
/// <item><c>r/ab/KEY</c>: the result of the compile whose ActionKey is KEY (object, stdout, stderr).</item>
/// <item><c>m/ab/KEY</c>: a direct-mode manifest: for one compiler, command line, working directory and
/// source content, the files the preprocessor read with their digests, each set leading to an ActionKey.</item>
/// <item><c>stats/NAME</c>: counters, one byte appended per event (O_APPEND makes that atomic).</item>
/// </list>
/// The FileContentStore the node uses is not used here: its recovery on open removes writes in
/// progress and reads every blob's size, which is right for one daemon and wrong for hundreds of
/// short processes sharing one directory.
/// </summary>
internal sealed class LocalCompileCache
{
    /// <summary>The default size cap (KILN_CACHE_SIZE).</summary>
    public const long DefaultCapacityBytes = 5L << 30;

    /// <summary>The most entries one manifest keeps (newest first), as different header contents come and go.</summary>
    private const int MaxManifestEntries = 16;

    /// <summary>One write in this many walks the cache to check the cap: the walk's cost spread over many compiles.</summary>
    private const int CleanupOneIn = 64;

    private static ReadOnlySpan<byte> ResultMagic => "KLNR"u8;

    private static ReadOnlySpan<byte> ManifestMagic => "KLNM"u8;

    private readonly int _seed;

    /// <summary>Creates the cache in <paramref name="directory"/> with a size cap.</summary>
    public LocalCompileCache(string directory, long capacityBytes, int seed)
    {
        Directory = directory;
        CapacityBytes = capacityBytes;
        _seed = seed;
    }

    /// <summary>The cache's directory.</summary>
    public string Directory { get; }

    /// <summary>The size cap in bytes.</summary>
    public long CapacityBytes { get; }

    /// <summary>The result stored under <paramref name="key"/>, or null.</summary>
    public CachedCompile? TryGetResult(ActionKey key)
    {
        var bytes = ReadVerified(PathOf("r", key.Hex), ResultMagic);
        if (bytes is null)
        {
            return null;
        }

        var position = 0;
        var obj = Take(bytes, ref position);
        var stdout = Take(bytes, ref position);
        var stderr = Take(bytes, ref position);
        return obj is null || stdout is null || stderr is null || position != bytes.Length
            ? null
            : new CachedCompile(obj.Value, stdout.Value, stderr.Value);
    }

    /// <summary>Stores a successful compile's result under <paramref name="key"/>.</summary>
    public void PutResult(ActionKey key, CachedCompile result)
    {
        using var body = new MemoryStream(result.Object.Length + result.Stdout.Length + result.Stderr.Length + 64);
        body.Write(ResultMagic);
        Put(body, result.Object.Span);
        Put(body, result.Stdout.Span);
        Put(body, result.Stderr.Span);
        WriteVerified(PathOf("r", key.Hex), body);
        Count("stored");
        MaybeClean();
    }

    /// <summary>
    /// Direct mode: the entry of manifest <paramref name="manifestKey"/> whose every file still has
    /// the digest it had, or null. <paramref name="digests"/> hashes each file once.
    /// </summary>
    public ManifestEntry? FindDirect(ActionKey manifestKey, FileDigests digests)
    {
        foreach (var entry in ReadManifest(manifestKey) ?? [])
        {
            if (digests.AllMatch(entry.Files))
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>Adds <paramref name="entry"/> to manifest <paramref name="manifestKey"/>, first, keeping the newest few.</summary>
    public void RecordDirect(ActionKey manifestKey, ManifestEntry entry)
    {
        var entries = new List<ManifestEntry> { entry };
        foreach (var old in ReadManifest(manifestKey) ?? [])
        {
            if (entries.Count < MaxManifestEntries && old.Key != entry.Key)
            {
                entries.Add(old);
            }
        }

        using var body = new MemoryStream();
        body.Write(ManifestMagic);
        PutInt(body, entries.Count);
        Span<byte> key = stackalloc byte[ActionKey.Length];
        Span<byte> hash = stackalloc byte[Digest.HashLength];
        foreach (var e in entries)
        {
            e.Key.WriteTo(key);
            body.Write(key);
            if (e.DependencyFile is null)
            {
                PutInt(body, -1);
            }
            else
            {
                Put(body, e.DependencyFile);
            }

            PutInt(body, e.Files.Count);
            foreach (var f in e.Files)
            {
                Put(body, Encoding.UTF8.GetBytes(f.Path));
                f.Digest.WriteHash(hash);
                body.Write(hash);
                PutLong(body, f.Digest.Size);
            }
        }

        WriteVerified(PathOf("m", manifestKey.Hex), body);
    }

    /// <summary>Counts one event (direct-hit, preprocessed-hit, miss, stored) across processes.</summary>
    public void Count(string name)
    {
        try
        {
            var path = System.IO.Path.Combine(Directory, "stats", name);
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1);
            file.WriteByte((byte)'.');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A counter is not worth failing a compile for.
        }
    }

    /// <summary>The counters and the size now (walks the cache).</summary>
    public LocalCacheStatistics Statistics()
    {
        long Counter(string name)
        {
            var info = new FileInfo(System.IO.Path.Combine(Directory, "stats", name));
            return info.Exists ? info.Length : 0;
        }

        var files = Walk();
        long size = 0, results = 0, manifests = 0;
        foreach (var f in files)
        {
            size += f.Length;
            if (f.Directory?.Parent?.Name == "r")
            {
                results++;
            }
            else
            {
                manifests++;
            }
        }

        return new LocalCacheStatistics(Directory, CapacityBytes, size, results, manifests,
            Counter("direct-hit"), Counter("preprocessed-hit"), Counter("miss"), Counter("stored"));
    }

    /// <summary>Removes the least recently used files until the cache is at most 90 % of its cap.</summary>
    public void Clean()
    {
        var files = Walk();
        long size = 0;
        foreach (var f in files)
        {
            size += f.Length;
        }

        if (size <= CapacityBytes)
        {
            return;
        }

        files.Sort(static (a, b) => a.LastWriteTimeUtc.CompareTo(b.LastWriteTimeUtc));
        var target = CapacityBytes / 10 * 9;
        foreach (var f in files)
        {
            if (size <= target)
            {
                break;
            }

            try
            {
                var length = f.Length;
                f.Delete();
                size -= length;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private void MaybeClean()
    {
        if ((uint)_seed % CleanupOneIn == 0)
        {
            Clean();
        }
    }

    private List<FileInfo> Walk()
    {
        var files = new List<FileInfo>();
        foreach (var kind in (string[])["r", "m"])
        {
            var root = new DirectoryInfo(System.IO.Path.Combine(Directory, kind));
            if (!root.Exists)
            {
                continue;
            }

            foreach (var f in root.EnumerateFiles("*", SearchOption.AllDirectories))
            {
                if (!f.Name.EndsWith(".tmp", StringComparison.Ordinal))
                {
                    files.Add(f);
                }
            }
        }

        return files;
    }

    private List<ManifestEntry>? ReadManifest(ActionKey manifestKey)
    {
        var bytes = ReadVerified(PathOf("m", manifestKey.Hex), ManifestMagic);
        if (bytes is null)
        {
            return null;
        }

        var position = 0;
        var count = TakeInt(bytes, ref position);
        if (count is null or < 0 or > MaxManifestEntries)
        {
            return null;
        }

        var entries = new List<ManifestEntry>(count.Value);
        for (var i = 0; i < count; i++)
        {
            if (position + ActionKey.Length > bytes.Length)
            {
                return null;
            }

            var key = ActionKey.FromBytes(bytes.AsSpan(position, ActionKey.Length));
            position += ActionKey.Length;
            byte[]? dependency = null;
            if (TakeInt(bytes, ref position) is not { } depLength)
            {
                return null;
            }

            if (depLength >= 0)
            {
                position -= 4;
                dependency = Take(bytes, ref position)?.ToArray();
                if (dependency is null)
                {
                    return null;
                }
            }

            var fileCount = TakeInt(bytes, ref position);
            if (fileCount is null or < 0 or > 100_000)
            {
                return null;
            }

            var files = new List<IncludedFile>(fileCount.Value);
            for (var j = 0; j < fileCount; j++)
            {
                var path = Take(bytes, ref position);
                if (path is null || position + Digest.HashLength + 8 > bytes.Length)
                {
                    return null;
                }

                var hash = bytes.AsSpan(position, Digest.HashLength);
                position += Digest.HashLength;
                var size = BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(position, 8));
                position += 8;
                if (size < 0)
                {
                    return null;
                }

                files.Add(new IncludedFile(Encoding.UTF8.GetString(path.Value.Span), Digest.FromHash(hash, size)));
            }

            entries.Add(new ManifestEntry(files, key, dependency));
        }

        return position == bytes.Length ? entries : null;
    }

    /// <summary>The digest of a file's content, or null when it cannot be read.</summary>
    public static Digest? DigestOfFile(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            if (stream.Length <= Digest.ManagedHashLimit)
            {
                // Headers are small: read whole and hashed without OpenSSL (Digest.Sha256).
                var whole = new byte[stream.Length];
                stream.ReadExactly(whole);
                return stream.ReadByte() < 0 ? Digest.FromBytes(whole) : null;
            }

            using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            long total = 0;
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hasher.AppendData(buffer, 0, read);
                total += read;
            }

            return Digest.FromIncremental(hasher, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string PathOf(string kind, string hex) => System.IO.Path.Combine(Directory, kind, hex[..2], hex[2..]);

    /// <summary>The file's body (after the magic, before the checksum) when the checksum holds; touches the file.</summary>
    private static byte[]? ReadVerified(string path, ReadOnlySpan<byte> magic)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (bytes.Length < magic.Length + SHA256.HashSizeInBytes || !bytes.AsSpan(0, magic.Length).SequenceEqual(magic))
        {
            return null;
        }

        var content = bytes.AsSpan(0, bytes.Length - SHA256.HashSizeInBytes);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Digest.Sha256(content, hash);
        if (!hash.SequenceEqual(bytes.AsSpan(content.Length)))
        {
            return null;
        }

        try
        {
            // Used now: the least recently used files go first when the cache is over its cap.
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return content[magic.Length..].ToArray();
    }

    private static void WriteVerified(string path, MemoryStream body)
    {
        body.TryGetBuffer(out var segment);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Digest.Sha256(segment, hash);
        body.Write(hash);
        body.TryGetBuffer(out segment);
        var temporary = path + "." + Environment.ProcessId + "." + Environment.TickCount64 + ".tmp";
        try
        {
            System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                file.Write(segment);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be written (full disk, read-only) costs hits, never the compile.
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static void Put(MemoryStream stream, ReadOnlySpan<byte> bytes)
    {
        PutInt(stream, bytes.Length);
        stream.Write(bytes);
    }

    private static void PutInt(MemoryStream stream, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        stream.Write(b);
    }

    private static void PutLong(MemoryStream stream, long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, value);
        stream.Write(b);
    }

    private static int? TakeInt(byte[] bytes, ref int position)
    {
        if (position + 4 > bytes.Length)
        {
            return null;
        }

        var value = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(position, 4));
        position += 4;
        return value;
    }

    private static ReadOnlyMemory<byte>? Take(byte[] bytes, ref int position)
    {
        var length = TakeInt(bytes, ref position);
        if (length is null || length < 0 || length > bytes.Length - position)
        {
            return null;
        }

        var slice = new ReadOnlyMemory<byte>(bytes, position, length.Value);
        position += length.Value;
        return slice;
    }
}
