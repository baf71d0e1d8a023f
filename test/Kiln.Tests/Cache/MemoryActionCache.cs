using System.Collections.Concurrent;
using Kiln.Core.Cas;

namespace Kiln.Tests.Cache;

/// <summary>An in-memory <see cref="IActionCache"/> with completeness checking on put and get, for front-end tests.</summary>
internal sealed class MemoryActionCache(IContentStore store) : IActionCache
{
    private readonly ConcurrentDictionary<(string, string), ActionEntry> _entries = new();

    public async ValueTask<ActionEntry?> GetAsync(string ns, string key, CancellationToken cancellationToken)
    {
        if (!_entries.TryGetValue((ns, key), out var entry))
        {
            return null;
        }

        var missing = await store.FindMissingAsync([entry.Value, .. entry.References], cancellationToken);
        return missing.Count == 0 ? entry : null;
    }

    // As SqliteActionCache: an entry whose blobs are not all present is refused.
    public async ValueTask<bool> PutAsync(string ns, string key, ActionEntry entry, string writer, CancellationToken cancellationToken)
    {
        var missing = await store.FindMissingAsync([entry.Value, .. entry.References], cancellationToken);
        if (missing.Count > 0)
        {
            return false;
        }

        _entries[(ns, key)] = entry with { Writer = writer, Written = DateTimeOffset.UtcNow };
        return true;
    }

    public ValueTask<bool> DeleteAsync(string ns, string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_entries.TryRemove((ns, key), out _));

    public ActionEntry? Peek(string ns, string key) => _entries.TryGetValue((ns, key), out var e) ? e : null;
}
