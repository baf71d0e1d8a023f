using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>
/// Entries keyed by their inputs (a compile's ActionKey, a ccache key, a Bazel action digest), each
/// pointing at blobs in the <see cref="IContentStore"/>. Namespaces keep front ends apart (a ccache
/// key never meets a Bazel key). A lookup is a hit only when every blob the entry needs is still
/// present (completeness checking): an entry whose blobs were evicted is a miss, never a broken hit.
/// </summary>
public interface IActionCache
{
    /// <summary>The entry under (<paramref name="ns"/>, <paramref name="key"/>), or null on a miss or an incomplete entry.</summary>
    ValueTask<ActionEntry?> GetAsync(string ns, string key, CancellationToken cancellationToken);

    /// <summary>
    /// Stores or replaces an entry; <paramref name="writer"/> records who wrote it. False, storing
    /// nothing, when the entry's value or a referenced blob is absent (put the blobs first).
    /// </summary>
    ValueTask<bool> PutAsync(string ns, string key, ActionEntry entry, string writer, CancellationToken cancellationToken);

    /// <summary>Removes an entry; true when one was there.</summary>
    ValueTask<bool> DeleteAsync(string ns, string key, CancellationToken cancellationToken);
}

/// <summary>
/// One action cache entry: <see cref="Value"/> is the blob holding the entry's own bytes (a ccache
/// cache entry, a Bazel ActionResult, Kiln's encoded Result); <see cref="References"/> are the other
/// blobs it needs (output files). <see cref="Writer"/> is who wrote it (filled in on reads).
/// </summary>
public sealed record ActionEntry(Digest Value, IReadOnlyList<Digest> References)
{
    /// <summary>Who wrote the entry (identity or address), as recorded by the store.</summary>
    public string Writer { get; init; } = "";

    /// <summary>When the entry was written (UTC).</summary>
    public DateTimeOffset Written { get; init; }
}
