using System.Collections.Concurrent;
using Kiln.Core.Cas;

namespace Kiln.Tests.Cache;

/// <summary>An in-memory <see cref="IActionCache"/> with completeness checking, for front-end tests.</summary>
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

    public ValueTask<bool> PutAsync(string ns, string key, ActionEntry entry, string writer, CancellationToken cancellationToken)
    {
        _entries[(ns, key)] = entry with { Writer = writer, Written = DateTimeOffset.UtcNow };
        return ValueTask.FromResult(true);
    }

    public ValueTask<bool> DeleteAsync(string ns, string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_entries.TryRemove((ns, key), out _));

    public ActionEntry? Peek(string ns, string key) => _entries.TryGetValue((ns, key), out var e) ? e : null;
}
