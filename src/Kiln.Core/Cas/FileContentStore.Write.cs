using System.Buffers;
using System.Security.Cryptography;
using Kiln.Core.Hashing;
using Microsoft.Data.Sqlite;

namespace Kiln.Core.Cas;

/// <summary>The write path: stream to a temporary file while hashing, verify, flush, rename, record.</summary>
public sealed partial class FileContentStore
{
    /// <summary>Copy buffer size: large enough that a write costs few system calls, small enough to pool.</summary>
    private const int CopyBufferSize = 128 * 1024;

    /// <summary>SQLite's result code for a full disk.</summary>
    private const int SqliteFull = 13;

    /// <inheritdoc/>
    public async ValueTask<PutResult> PutAsync(Digest expected, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var maxBlob = Options.EffectiveMaxBlobBytes;
        if (expected.Size > maxBlob)
        {
            return new PutResult(PutStatus.TooLarge, expected,
                $"blob {expected} is {expected.Size} bytes; this store accepts blobs of at most {maxBlob} bytes");
        }

        bool present;
        lock (_gate)
        {
            ThrowIfDisposed();
            present = IsPresentLocked(expected, checkFile: true);
        }

        if (present)
        {
            return await DrainAsync(expected, content, cancellationToken).ConfigureAwait(false);
        }

        return await WriteAsync(expected, content, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<PutResult> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return WriteAsync(null, content, cancellationToken);
    }

    /// <summary>Reads a stream whose blob is already present, checking only its length.</summary>
    private static async ValueTask<PutResult> DrainAsync(Digest expected, Stream content, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            long size = 0;
            int read;
            while ((read = await content.ReadAsync(buffer.AsMemory(0, ReadLength(buffer, expected.Size, size)), cancellationToken).ConfigureAwait(false)) > 0)
            {
                size += read;
                if (size > expected.Size)
                {
                    return TooLong(expected);
                }
            }

            return size == expected.Size
                ? new PutResult(PutStatus.AlreadyPresent, expected, null)
                : Truncated(expected, size);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask<PutResult> WriteAsync(Digest? expected, Stream content, CancellationToken cancellationToken)
    {
        var limit = expected?.Size ?? Options.EffectiveMaxBlobBytes;
        var temp = Path.Combine(_tempRoot, Guid.NewGuid().ToString("N") + ".tmp");
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        try
        {
            FileStream file;
            try
            {
                // Reserving the expected size up front makes a blob that cannot fit fail at once,
                // before any of it travels. Unbuffered: the copy buffer is the only buffer, and a
                // full disk surfaces on the write that hit it, not on a later flush.
                file = new FileStream(temp, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    Share = FileShare.None,
                    BufferSize = 0,
                    PreallocationSize = expected?.Size ?? 0,
                });
            }
            catch (IOException e) when (IsDiskFull(e))
            {
                return NoSpace(expected, size, e);
            }

            Digest digest;
            await using (file.ConfigureAwait(false))
            {
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, ReadLength(buffer, limit, size)), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (size + read > limit)
                    {
                        return expected is { } e
                            ? TooLong(e)
                            : new PutResult(PutStatus.TooLarge, default,
                                $"the blob is larger than {limit} bytes, the most this store accepts; nothing was stored");
                    }

                    hasher.AppendData(buffer, 0, read);
                    try
                    {
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException e) when (IsDiskFull(e))
                    {
                        return NoSpace(expected, size, e);
                    }

                    size += read;
                }

                if (expected is { } want && size != want.Size)
                {
                    return Truncated(want, size);
                }

                digest = Digest.FromIncremental(hasher, size);
                if (expected is { } wanted && digest != wanted)
                {
                    return new PutResult(PutStatus.DigestMismatch, wanted,
                        $"the {size} bytes sent for blob {wanted.Hex} hash to {digest.Hex}; nothing was stored");
                }

                try
                {
                    file.Flush(flushToDisk: true);
                }
                catch (IOException e) when (IsDiskFull(e))
                {
                    return NoSpace(expected, size, e);
                }
            }

            return Commit(digest, temp);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            TryDelete(temp);
        }
    }

    /// <summary>Renames a verified temporary file into place and records it, then keeps the cap.</summary>
    private PutResult Commit(Digest digest, string temp)
    {
        var path = BlobPath(digest);
        lock (_gate)
        {
            ThrowIfDisposed();
            if (IsPresentLocked(digest, checkFile: true))
            {
                return new PutResult(PutStatus.AlreadyPresent, digest, null);
            }

            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.Move(temp, path, overwrite: true);
            }
            catch (IOException e) when (IsDiskFull(e))
            {
                return NoSpace(digest, digest.Size, e);
            }

            try
            {
                _index.InsertBlob(digest);
            }
            catch (SqliteException e) when (e.SqliteErrorCode == SqliteFull)
            {
                // Without a row the file would be invisible; remove it rather than leave it to recovery.
                TryDelete(path);
                return new PutResult(PutStatus.NoSpace, digest,
                    $"no space left to record blob {digest} in the store index ({e.Message}); nothing was stored");
            }

            _bytes += digest.Size;
            _count++;
            EvictLocked(digest);
        }

        return new PutResult(PutStatus.Stored, digest, null);
    }

    /// <summary>How much to read next: up to one byte past <paramref name="limit"/>, so an over-long stream shows.</summary>
    private static int ReadLength(byte[] buffer, long limit, long size) =>
        (int)Math.Min(buffer.Length, Math.Max(1, limit - size + 1));

    private static PutResult TooLong(Digest expected) =>
        new(PutStatus.SizeMismatch, expected,
            $"the stream for blob {expected.Hex} went past its declared size of {expected.Size} bytes; nothing was stored");

    private static PutResult Truncated(Digest expected, long size) =>
        new(PutStatus.SizeMismatch, expected,
            $"the stream for blob {expected.Hex} ended after {size} of its declared {expected.Size} bytes; nothing was stored");

    private PutResult NoSpace(Digest? expected, long written, IOException e) =>
        new(PutStatus.NoSpace, expected ?? default,
            $"no space left on the device holding {Options.Directory} after {written} bytes of blob " +
            $"{(expected is { } d ? d.ToString() : "(digest not yet known)")} ({e.Message}); nothing was stored and stored blobs are intact");

    /// <summary>ENOSPC and EDQUOT on Unix; ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL on Windows.</summary>
    internal static bool IsDiskFull(IOException e) =>
        e.HResult is 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
