using Kiln.Core.Cas;
using Kiln.Core.Hashing;

namespace Kiln.Server.Cache;

/// <summary>
/// Finds a blob by its hash alone, as the Bazel HTTP protocol names blobs (<c>/cas/&lt;sha256&gt;</c>,
/// no size), while <see cref="IContentStore"/> names them by hash and size. For the
/// <see cref="FileContentStore"/> the size is that of the blob's file (its path depends on the hash
/// only); the store's own lookup then checks the pair against its index as for any read.
/// </summary>
internal static class BlobLookup
{
    /// <summary>Opens the blob whose SHA-256 is <paramref name="hash"/> (its size unknown), or returns null.</summary>
    public static ValueTask<Stream?> OpenByHashAsync(IContentStore store, Digest hash, CancellationToken cancellationToken)
    {
        if (store is FileContentStore files)
        {
            var file = new FileInfo(files.BlobPath(hash));
            if (!file.Exists)
            {
                return ValueTask.FromResult<Stream?>(null);
            }

            Span<byte> raw = stackalloc byte[Digest.HashLength];
            hash.WriteHash(raw);
            return store.OpenReadAsync(Digest.FromHash(raw, file.Length), cancellationToken);
        }

        // Other stores (in-memory ones in tests) look blobs up by hash; the size given is ignored.
        return store.OpenReadAsync(hash, cancellationToken);
    }
}
