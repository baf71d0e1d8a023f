using Kiln.Core.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Kiln.Core.Cas;

/// <summary>
/// The embedded content store: one file per blob under <c>cas/ab/abcdef…</c>, an SQLite index of
/// sizes and access times, and a size cap kept by evicting the least recently used blobs. Writes
/// stream into <c>tmp/</c> while hashing, are verified, flushed to disk and renamed into place, so a
/// reader never sees a partial blob. Opening the store recovers from a crash (see <see cref="Open"/>).
/// Thread-safe: every index access and every rename runs under one gate; hashing and file writes
/// run outside it. Dispose it once; it is then unusable.
/// </summary>
public sealed partial class FileContentStore : IContentStore, IDisposable
{
    private const string BlobsFolder = "cas";
    private const string TempFolder = "tmp";
    private const string IndexFile = "index.sqlite";

    /// <summary>How many digests a lookup batch checks before letting others take the gate.</summary>
    private const int LookupBatch = 256;

    private readonly Lock _gate = new();
    private readonly StoreIndex _index;
    private readonly string _blobRoot;
    private readonly string _tempRoot;
    private long _bytes;
    private long _count;
    private long _evictions;
    private bool _disposed;

    /// <summary>Small blobs' bytes, kept after a read (under the gate).</summary>
    private readonly SmallBlobCache _small;

    private FileContentStore(ContentStoreOptions options, StoreIndex index)
    {
        Options = options;
        _index = index;
        _small = new SmallBlobCache(options.MemoryCacheBytes);
        _blobRoot = Path.Combine(options.Directory, BlobsFolder);
        _tempRoot = Path.Combine(options.Directory, TempFolder);
    }

    /// <summary>The options the store was opened with.</summary>
    public ContentStoreOptions Options { get; }

    /// <summary>What the last <see cref="Open"/> found and repaired.</summary>
    public RecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0, 0);

    /// <summary>
    /// Opens the store in <paramref name="options"/>' directory, creating it when absent, and
    /// recovers from a crash: it removes leftover temporary files, drops index rows whose file is
    /// gone, removes blob files whose size disagrees with the index, adopts blob files without a row
    /// once their hash is verified (and removes those that fail), then evicts down to the cap.
    /// </summary>
    public static FileContentStore Open(ContentStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.CapacityBytes);
        Directory.CreateDirectory(options.Directory);
        Directory.CreateDirectory(Path.Combine(options.Directory, BlobsFolder));
        Directory.CreateDirectory(Path.Combine(options.Directory, TempFolder));
        var index = StoreIndex.Open(Path.Combine(options.Directory, IndexFile), options.TimeProvider);
        var store = new FileContentStore(options, index);
        try
        {
            store.Recover();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>The gate the action cache holds around its index work.</summary>
    internal Lock Gate => _gate;

    /// <summary>The index (only under <see cref="Gate"/>).</summary>
    internal StoreIndex Index => _index;

    /// <summary>The path a blob's file has (whether or not it is present).</summary>
    public string BlobPath(Digest digest)
    {
        var hex = digest.Hex;
        return Path.Combine(_blobRoot, hex[..2], hex);
    }

    /// <inheritdoc/>
    public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfDisposed();
            return ValueTask.FromResult(IsPresentLocked(digest, checkFile: false));
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<Digest>> FindMissingAsync(IReadOnlyList<Digest> digests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digests);
        var missing = new List<Digest>();
        var seen = digests.Count > 1 ? new HashSet<Digest>(digests.Count) : null;
        for (var start = 0; start < digests.Count; start += LookupBatch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var end = Math.Min(digests.Count, start + LookupBatch);
            lock (_gate)
            {
                ThrowIfDisposed();
                _index.Begin();
                try
                {
                    for (var i = start; i < end; i++)
                    {
                        var d = digests[i];
                        if ((seen is null || seen.Add(d)) && !IsPresentLocked(d, checkFile: false))
                        {
                            missing.Add(d);
                        }
                    }

                    _index.Commit();
                }
                catch
                {
                    _index.Rollback();
                    throw;
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Digest>>(missing);
    }

    /// <inheritdoc/>
    public ValueTask<Stream?> OpenReadAsync(Digest digest, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (digest == Digest.Empty)
        {
            return ValueTask.FromResult<Stream?>(new MemoryStream([], writable: false));
        }

        lock (_gate)
        {
            ThrowIfDisposed();
            if (!_index.TouchBlob(digest))
            {
                return ValueTask.FromResult<Stream?>(null);
            }

            // Opened under the gate so eviction cannot remove the file between the check and the
            // open; once open, the stream stays readable even if the blob is evicted (unlink).
            try
            {
                Stream stream = new FileStream(BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete,
                    bufferSize: 4096, FileOptions.SequentialScan);
                return ValueTask.FromResult<Stream?>(stream);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                ForgetLocked(digest);
                return ValueTask.FromResult<Stream?>(null);
            }
        }
    }

    /// <summary>The largest blob <see cref="ReadSmall"/> reads (and keeps in memory).</summary>
    public const int SmallBlobBytes = SmallBlobCache.MaxEntryBytes;

    /// <summary>
    /// The whole of a blob of at most <see cref="SmallBlobBytes"/> bytes, from memory when
    /// it was read recently (no file is opened then), and touches it; null when the blob is absent, or
    /// when its file is gone or shorter than its record (the blob is then forgotten, as a read of it
    /// would find). Larger blobs: <see cref="OpenReadAsync"/>.
    /// </summary>
    public byte[]? ReadSmall(Digest digest)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(digest.Size, SmallBlobCache.MaxEntryBytes, nameof(digest));
        if (digest == Digest.Empty)
        {
            return [];
        }

        SafeFileHandle file;
        lock (_gate)
        {
            ThrowIfDisposed();
            if (!_index.TouchBlob(digest))
            {
                _small.Remove(digest);
                return null;
            }

            if (_small.Get(digest) is { } cached)
            {
                return cached;
            }

            // Opened under the gate so eviction cannot remove the file between the check and the open.
            // FileShare.ReadWrite: no advisory lock is taken (.NET emulates sharing modes with flock);
            // a blob's file is never written in place.
            try
            {
                file = File.OpenHandle(BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                ForgetLocked(digest);
                return null;
            }
        }

        var bytes = new byte[digest.Size];
        using (file)
        {
            var read = 0;
            while (read < bytes.Length)
            {
                var n = RandomAccess.Read(file, bytes.AsSpan(read), read);
                if (n == 0)
                {
                    lock (_gate)
                    {
                        ForgetLocked(digest);
                    }

                    return null;
                }

                read += n;
            }
        }

        lock (_gate)
        {
            if (!_disposed && _index.BlobSize(digest) == digest.Size)
            {
                _small.Add(digest, bytes);
            }
        }

        return bytes;
    }

    /// <summary>Bytes of small blobs held in memory now (diagnostics and tests).</summary>
    public long MemoryCachedBytes
    {
        get
        {
            lock (_gate)
            {
                return _small.Bytes;
            }
        }
    }

    /// <summary>A snapshot of the store's size and the action cache's counters.</summary>
    public StoreStatistics GetStatistics()
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return new StoreStatistics(Options.CapacityBytes, _bytes, _count, _evictions, _index.NamespaceCounters());
        }
    }

    /// <summary>When the blob was last used, or null when absent (diagnostics and tests).</summary>
    public DateTimeOffset? LastAccess(Digest digest)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            return _index.LastAccess(digest);
        }
    }

    /// <summary>
    /// True when the blob is present; touches it. With <paramref name="checkFile"/>, also checks
    /// that its file exists and forgets it when not (a file removed behind the store's back).
    /// </summary>
    internal bool IsPresentLocked(Digest digest, bool checkFile)
    {
        if (digest == Digest.Empty)
        {
            return true;
        }

        if (!_index.TouchBlob(digest))
        {
            return false;
        }

        // A blob whose bytes are in memory needs no look at its file: they are what a read gives.
        if (checkFile && !_small.Contains(digest) && !File.Exists(BlobPath(digest)))
        {
            ForgetLocked(digest);
            return false;
        }

        return true;
    }

    /// <summary>Drops the index row of a blob whose file is gone.</summary>
    private void ForgetLocked(Digest digest)
    {
        _small.Remove(digest);
        var size = _index.BlobSize(digest);
        if (size >= 0)
        {
            _index.DeleteBlob(digest);
            _bytes -= size;
            _count--;
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _index.Dispose();
        }
    }
}
