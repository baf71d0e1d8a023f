using System.Text;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;

namespace Kiln.Server.CompileCache;

/// <summary>
/// Remote direct mode (docs/cache.md): manifests that let a client skip its preprocessor. The node
/// cannot check a manifest (it never sees the client's headers), so every manifest belongs to the
/// identity that wrote it: a client reads only the entries its own identity recorded, and one client
/// can never make another take a wrong result. Entries point at results under keys this node
/// computed, and a FETCH of one still passes the trust policy like any lookup.
/// </summary>
public sealed partial class CompileResultCache
{
    /// <summary>The action cache namespace of manifests.</summary>
    public const string ManifestNamespace = "kiln-manifest";

    /// <summary>Serialises read-merge-write of one manifest (striped by key): two records at once must not lose one.</summary>
    private readonly SemaphoreSlim[] _manifestLocks = [.. Enumerable.Range(0, 32).Select(_ => new SemaphoreSlim(1, 1))];

    /// <summary>The action cache key of a manifest in a writer's scope: SHA-256 of the manifest key and the scope.</summary>
    private static string ManifestEntryKey(ActionKey manifestKey, string scope)
    {
        var bytes = new byte[ActionKey.Length + Encoding.UTF8.GetByteCount(scope)];
        manifestKey.WriteTo(bytes);
        Encoding.UTF8.GetBytes(scope, bytes.AsSpan(ActionKey.Length));
        return Digest.FromBytes(bytes).Hex;
    }

    /// <summary>
    /// The stored manifest of <paramref name="manifestKey"/> in <paramref name="scope"/>, as a MANIFEST
    /// payload (newest entry first), or null when there is none or it no longer decodes.
    /// </summary>
    public async ValueTask<byte[]?> FindManifestAsync(ActionKey manifestKey, string scope, CancellationToken cancellationToken)
    {
        var entry = await _actions.GetAsync(ManifestNamespace, ManifestEntryKey(manifestKey, scope), cancellationToken).ConfigureAwait(false);
        if (entry is null || entry.Value.Size > KilnManifest.MaxManifestLength)
        {
            return null;
        }

        var bytes = await ReadAsync(entry.Value, cancellationToken).ConfigureAwait(false);
        return bytes is not null && KilnManifest.TryParse(bytes, out _, out _) ? bytes : null;
    }

    /// <summary>
    /// Adds <paramref name="entry"/> (its node key filled in) to the manifest of
    /// <paramref name="manifestKey"/> in <paramref name="scope"/>: newest first, an older entry for
    /// the same result or the same files replaced, at most <see cref="KilnManifest.MaxEntries"/> and
    /// <see cref="KilnManifest.MaxManifestLength"/> bytes kept. False when the store would not take it.
    /// </summary>
    public async ValueTask<bool> RecordManifestAsync(ActionKey manifestKey, string scope, KilnManifestEntry entry, string writer,
        CancellationToken cancellationToken)
    {
        var key = ManifestEntryKey(manifestKey, scope);
        var gate = _manifestLocks[Convert.ToInt32(key[..2], 16) % _manifestLocks.Length];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var entries = new List<KilnManifestEntry> { entry };
            var length = 2 + entry.EncodedLength;
            if (await FindManifestAsync(manifestKey, scope, cancellationToken).ConfigureAwait(false) is { } stored
                && KilnManifest.TryParse(stored, out var older, out _))
            {
                foreach (var old in older)
                {
                    if (entries.Count >= KilnManifest.MaxEntries || length + old.EncodedLength > KilnManifest.MaxManifestLength)
                    {
                        break;
                    }

                    if (old.NodeKey != entry.NodeKey && !old.Files.SequenceEqual(entry.Files))
                    {
                        entries.Add(old);
                        length += old.EncodedLength;
                    }
                }
            }

            if (length > KilnManifest.MaxManifestLength)
            {
                return false;
            }

            var value = await PutAsync(KilnManifest.Encode(entries), cancellationToken).ConfigureAwait(false);
            return value is { } digest
                && await _actions.PutAsync(ManifestNamespace, key, new ActionEntry(digest, []), writer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            LogNotStored(key, e.Message);
            return false;
        }
        finally
        {
            gate.Release();
        }
    }
}
