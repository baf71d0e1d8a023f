using System.Collections.Concurrent;
using System.Security.Cryptography;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;

namespace Kiln.Tests.Cache;

/// <summary>
/// An in-memory <see cref="IContentStore"/> for front-end tests that need a store to misbehave on
/// purpose (full disk, size cap). It verifies uploads as the contract says.
/// </summary>
internal sealed class MemoryContentStore : IContentStore
{
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new();

    /// <summary>Blobs larger than this are refused as <see cref="PutStatus.TooLarge"/>.</summary>
    public long MaxBlobSize { get; set; } = long.MaxValue;

    /// <summary>When set, every write reads its input and then fails with this status.</summary>
    public PutStatus? FailWritesWith { get; set; }

    public int Count => _blobs.Count;

    public ValueTask<bool> ContainsAsync(Digest digest, CancellationToken cancellationToken) =>
        ValueTask.FromResult(digest == Digest.Empty || _blobs.ContainsKey(digest.Hex));

    public ValueTask<IReadOnlyList<Digest>> FindMissingAsync(IReadOnlyList<Digest> digests, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<Digest>>(digests.Where(d => d != Digest.Empty && !_blobs.ContainsKey(d.Hex)).ToList());

    public ValueTask<Stream?> OpenReadAsync(Digest digest, CancellationToken cancellationToken) =>
        ValueTask.FromResult<Stream?>(_blobs.TryGetValue(digest.Hex, out var bytes) ? new MemoryStream(bytes, writable: false) : null);

    public ValueTask<PutResult> PutAsync(Digest expected, Stream content, CancellationToken cancellationToken) =>
        PutCoreAsync(expected, content, cancellationToken);

    public ValueTask<PutResult> PutAsync(Stream content, CancellationToken cancellationToken) =>
        PutCoreAsync(null, content, cancellationToken);

    private async ValueTask<PutResult> PutCoreAsync(Digest? expected, Stream content, CancellationToken cancellationToken)
    {
        if (expected is { } e && e.Size > MaxBlobSize)
        {
            return new PutResult(PutStatus.TooLarge, e, $"over {MaxBlobSize} bytes");
        }

        using var copy = new MemoryStream();
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[65536];
        int read;
        while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (copy.Length + read > MaxBlobSize)
            {
                return new PutResult(PutStatus.TooLarge, expected ?? default, $"over {MaxBlobSize} bytes");
            }

            hasher.AppendData(buffer, 0, read);
            copy.Write(buffer, 0, read);
        }

        var actual = Digest.FromIncremental(hasher, copy.Length);
        if (FailWritesWith is { } failure)
        {
            return new PutResult(failure, actual, "injected failure");
        }

        if (expected is { } wanted && wanted.Size != actual.Size)
        {
            return new PutResult(PutStatus.SizeMismatch, wanted, $"got {actual.Size} bytes");
        }

        if (expected is { } want && want != actual)
        {
            return new PutResult(PutStatus.DigestMismatch, want, $"content hashes to {actual.Hex}");
        }

        return _blobs.TryAdd(actual.Hex, copy.ToArray())
            ? new PutResult(PutStatus.Stored, actual, null)
            : new PutResult(PutStatus.AlreadyPresent, actual, null);
    }
}
