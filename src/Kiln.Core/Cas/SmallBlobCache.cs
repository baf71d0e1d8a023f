using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>
/// The bytes of small blobs read recently, least recently used first out, up to a byte budget. A
/// blob's bytes never change (its name is their hash), so a copy is never stale; the store removes
/// a blob's copy when it evicts or forgets the blob, so a blob gone from the store is gone from here
/// too. Not thread-safe: the store uses it under its gate.
/// </summary>
internal sealed class SmallBlobCache(long budgetBytes)
{
    /// <summary>Blobs larger than this are never kept.</summary>
    public const int MaxEntryBytes = 256 * 1024;

    private readonly Dictionary<Digest, LinkedListNode<(Digest Digest, byte[] Bytes)>> _entries = [];
    private readonly LinkedList<(Digest Digest, byte[] Bytes)> _recency = new();
    private long _bytes;

    /// <summary>Bytes held now.</summary>
    public long Bytes => _bytes;

    /// <summary>True when a blob of this size may be kept.</summary>
    public bool Admits(Digest digest) => budgetBytes > 0 && digest.Size <= MaxEntryBytes && digest.Size <= budgetBytes;

    /// <summary>True when the blob's bytes are here (does not count as a use).</summary>
    public bool Contains(Digest digest) => _entries.ContainsKey(digest);

    /// <summary>The blob's bytes, marked most recently used, or null.</summary>
    public byte[]? Get(Digest digest)
    {
        if (!_entries.TryGetValue(digest, out var node))
        {
            return null;
        }

        _recency.Remove(node);
        _recency.AddFirst(node);
        return node.Value.Bytes;
    }

    /// <summary>Keeps <paramref name="bytes"/> as the blob's, evicting the least recently used to stay within the budget.</summary>
    public void Add(Digest digest, byte[] bytes)
    {
        if (!Admits(digest) || bytes.Length != digest.Size || _entries.ContainsKey(digest))
        {
            return;
        }

        while (_bytes + bytes.Length > budgetBytes && _recency.Last is { } oldest)
        {
            Remove(oldest.Value.Digest);
        }

        _entries[digest] = _recency.AddFirst((digest, bytes));
        _bytes += bytes.Length;
    }

    /// <summary>Drops the blob's bytes, if held.</summary>
    public void Remove(Digest digest)
    {
        if (_entries.Remove(digest, out var node))
        {
            _recency.Remove(node);
            _bytes -= node.Value.Bytes.Length;
        }
    }
}
