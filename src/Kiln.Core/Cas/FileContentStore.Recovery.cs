using System.Security.Cryptography;
using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>Reconciling the files with the index when the store opens.</summary>
public sealed partial class FileContentStore
{
    private void Recover()
    {
        lock (_gate)
        {
            var tempRemoved = 0;
            foreach (var temp in Directory.EnumerateFiles(_tempRoot))
            {
                // tmp/ holds only writes in progress, and none is in progress before the store opens.
                TryDelete(temp);
                tempRemoved++;
            }

            var rows = new Dictionary<Digest, long>();
            foreach (var d in _index.AllBlobs())
            {
                rows[Digest.FromHash(d.HashBytes(), 0)] = d.Size;
            }

            var adopted = 0;
            var removed = 0;
            var dropped = 0;
            _index.Begin();
            try
            {
                foreach (var shard in Directory.EnumerateDirectories(_blobRoot))
                {
                    var shardName = Path.GetFileName(shard);
                    foreach (var file in Directory.EnumerateFiles(shard))
                    {
                        var name = Path.GetFileName(file);
                        if (!IsBlobName(name, shardName) || !Digest.TryParse(name, 0, out var key))
                        {
                            TryDelete(file);
                            removed++;
                            continue;
                        }

                        var length = new FileInfo(file).Length;
                        if (rows.Remove(key, out var recorded))
                        {
                            if (length != recorded)
                            {
                                _index.DeleteBlob(key);
                                TryDelete(file);
                                removed++;
                            }

                            continue;
                        }

                        // A crash between the rename and the index row leaves a complete file (it was
                        // flushed before the rename); the hash check also catches anything else.
                        var actual = HashFile(file);
                        if (actual is { } digest && digest.Hex == name)
                        {
                            _index.InsertBlob(digest);
                            adopted++;
                        }
                        else
                        {
                            TryDelete(file);
                            removed++;
                        }
                    }
                }

                foreach (var orphan in rows.Keys)
                {
                    _index.DeleteBlob(orphan);
                    dropped++;
                }

                _index.Commit();
            }
            catch
            {
                _index.Rollback();
                throw;
            }

            (_count, _bytes) = _index.BlobTotals();
            var evicted = EvictLocked(null);
            Recovery = new RecoveryReport(tempRemoved, dropped, adopted, removed, evicted);
        }
    }

    private static bool IsBlobName(string name, string shard) =>
        name.Length == Digest.HexLength && shard.Length == 2 && name.StartsWith(shard, StringComparison.Ordinal)
        && name.AsSpan().IndexOfAnyExcept("0123456789abcdef") < 0;

    private static Digest? HashFile(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 128 * 1024, FileOptions.SequentialScan);
            using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(128 * 1024);
            try
            {
                long size = 0;
                int read;
                while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    hasher.AppendData(buffer, 0, read);
                    size += read;
                }

                return Digest.FromIncremental(hasher, size);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (IOException)
        {
            return null;
        }
    }
}
