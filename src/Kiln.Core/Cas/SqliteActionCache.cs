namespace Kiln.Core.Cas;

/// <summary>
/// The embedded action cache: entries in the <see cref="FileContentStore"/>'s SQLite index, values
/// and references in its blobs. A lookup is a hit only when the value blob and every reference are
/// present (and it marks them used, so a build's blobs outlive its lookups); otherwise it is a miss,
/// counted as one. Entries are overwritable: ccache rewrites its manifests under the same key.
/// Thread-safe; shares the store's gate and lifetime (dispose the store, not this).
/// </summary>
public sealed class SqliteActionCache(FileContentStore store) : IActionCache
{
    /// <summary>The longest namespace accepted.</summary>
    public const int MaxNamespaceLength = 64;

    /// <summary>The longest key accepted (a Bazel instance name plus a digest fits many times over).</summary>
    public const int MaxKeyLength = 1024;

    /// <summary>The most references one entry may carry.</summary>
    public const int MaxReferences = 100_000;

    /// <summary>The store whose blobs the entries point at.</summary>
    public FileContentStore Store { get; } = store ?? throw new ArgumentNullException(nameof(store));

    /// <inheritdoc/>
    public ValueTask<ActionEntry?> GetAsync(string ns, string key, CancellationToken cancellationToken)
    {
        CheckName(ns, key);
        cancellationToken.ThrowIfCancellationRequested();
        var index = Store.Index;
        lock (Store.Gate)
        {
            Store.ThrowIfDisposed();

            // No transaction: the reads need none, and the access times and counts are deferred
            // (StoreIndex), so a hit writes nothing to SQLite at once.
            var entry = index.GetAction(ns, key);
            ActionEntry? hit = null;
            if (entry is not null && IsCompleteLocked(entry, out var bytes))
            {
                hit = entry;
                index.Count(ns, hits: 1, misses: 0, puts: 0, bytesWritten: 0, bytesServed: bytes);
            }
            else
            {
                index.Count(ns, hits: 0, misses: 1, puts: 0, bytesWritten: 0, bytesServed: 0);
            }

            return ValueTask.FromResult(hit);
        }
    }

    /// <summary>
    /// Stores or replaces an entry. Returns false, storing nothing, when the value blob or a
    /// referenced blob is not in the store (such an entry could never be a hit, so callers put the
    /// blobs first, as Bazel and ccache do) or when the disk is too full to record it.
    /// </summary>
    public ValueTask<bool> PutAsync(string ns, string key, ActionEntry entry, string writer, CancellationToken cancellationToken)
    {
        CheckName(ns, key);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(writer);
        if (entry.References.Count > MaxReferences)
        {
            throw new ArgumentException($"an entry may reference at most {MaxReferences} blobs, not {entry.References.Count}", nameof(entry));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var index = Store.Index;
        lock (Store.Gate)
        {
            Store.ThrowIfDisposed();
            index.Begin();
            try
            {
                if (!IsCompleteLocked(entry, out var bytes))
                {
                    index.Commit();
                    return ValueTask.FromResult(false);
                }

                index.PutAction(ns, key, entry, writer);
                index.Count(ns, hits: 0, misses: 0, puts: 1, bytesWritten: bytes, bytesServed: 0);
                return ValueTask.FromResult(index.Commit());
            }
            catch (Microsoft.Data.Sqlite.SqliteException e) when (StoreIndex.IsFull(e))
            {
                // No room in the index for the entry: not stored, as when a blob is missing.
                index.Rollback();
                return ValueTask.FromResult(false);
            }
            catch
            {
                index.Rollback();
                throw;
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string ns, string key, CancellationToken cancellationToken)
    {
        CheckName(ns, key);
        cancellationToken.ThrowIfCancellationRequested();
        lock (Store.Gate)
        {
            Store.ThrowIfDisposed();
            return ValueTask.FromResult(Store.Index.DeleteAction(ns, key));
        }
    }

    /// <summary>True when the value and every reference are present (touching them); their total size.</summary>
    private bool IsCompleteLocked(ActionEntry entry, out long bytes)
    {
        bytes = 0;
        if (!Store.IsPresentLocked(entry.Value, checkFile: true))
        {
            return false;
        }

        bytes += entry.Value.Size;
        foreach (var reference in entry.References)
        {
            if (!Store.IsPresentLocked(reference, checkFile: true))
            {
                return false;
            }

            bytes += reference.Size;
        }

        return true;
    }

    private static void CheckName(string ns, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (ns.Length > MaxNamespaceLength)
        {
            throw new ArgumentException($"a namespace has at most {MaxNamespaceLength} characters, not {ns.Length}", nameof(ns));
        }

        if (key.Length > MaxKeyLength)
        {
            throw new ArgumentException($"a key has at most {MaxKeyLength} characters, not {key.Length}", nameof(key));
        }
    }
}
