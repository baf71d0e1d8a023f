using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>Least-recently-used eviction down to the size cap.</summary>
public sealed partial class FileContentStore
{
    /// <summary>Victims read from the index per round.</summary>
    private const int EvictionBatch = 64;

    /// <summary>
    /// Evicts the least recently used blobs until the store is under its cap, never
    /// <paramref name="keep"/> (the blob just written). A reader holding a blob open keeps reading it
    /// after its file is unlinked.
    /// </summary>
    private long EvictLocked(Digest? keep)
    {
        long evicted = 0;
        var victims = new List<Digest>(EvictionBatch);
        while (_bytes > Options.CapacityBytes)
        {
            victims.Clear();
            var excess = _bytes - Options.CapacityBytes;
            foreach (var candidate in _index.OldestBlobs(EvictionBatch + 1))
            {
                if (excess <= 0)
                {
                    break;
                }

                if (candidate != keep)
                {
                    victims.Add(candidate);
                    excess -= candidate.Size;
                }
            }

            if (victims.Count == 0)
            {
                break;
            }

            // Files first: on a full disk, removing rows needs room in the write-ahead log, which
            // only the removed files give back. A crash in between leaves rows without files, which
            // recovery drops; nobody sees the gap at run time because the gate is held.
            foreach (var victim in victims)
            {
                TryDelete(BlobPath(victim));
                _small.Remove(victim);
                _bytes -= victim.Size;
                _count--;
                evicted++;
            }

            if (!DeleteRows(victims) && !DeleteRows(victims))
            {
                // Still no room for the index: the rows stay, and lookups that check the file
                // (reads, action cache hits, re-puts) drop them as they meet them.
                (_count, _bytes) = _index.BlobTotals();
                break;
            }
        }

        _evictions += evicted;
        return evicted;
    }

    private bool DeleteRows(List<Digest> victims)
    {
        _index.Begin();
        try
        {
            foreach (var victim in victims)
            {
                _index.DeleteBlob(victim);
            }
        }
        catch (Microsoft.Data.Sqlite.SqliteException e) when (StoreIndex.IsFull(e))
        {
            _index.Rollback();
            return false;
        }
        catch
        {
            _index.Rollback();
            throw;
        }

        return _index.Commit();
    }
}
