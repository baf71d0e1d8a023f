using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>Least-recently-used eviction down to the size cap.</summary>
public sealed partial class FileContentStore
{
    /// <summary>Victims read from the index per round.</summary>
    private const int EvictionBatch = 64;

    /// <summary>
    /// Evicts the least recently used blobs until the store is under its cap, never
    /// <paramref name="keep"/> (the blob just written). Rows go first, in one commit, then the files:
    /// a crash in between leaves files without rows, which recovery adopts or removes, never a row
    /// without a file. A reader holding a blob open keeps reading it after its file is unlinked.
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

            _index.Begin();
            try
            {
                foreach (var victim in victims)
                {
                    _index.DeleteBlob(victim);
                }

                _index.Commit();
            }
            catch
            {
                _index.Rollback();
                throw;
            }

            foreach (var victim in victims)
            {
                TryDelete(BlobPath(victim));
                _bytes -= victim.Size;
                _count--;
                evicted++;
            }
        }

        _evictions += evicted;
        return evicted;
    }
}
