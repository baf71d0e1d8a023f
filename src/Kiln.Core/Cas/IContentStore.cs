using Kiln.Core.Hashing;

namespace Kiln.Core.Cas;

/// <summary>
/// The content-addressed store: blobs named by their <see cref="Digest"/>. Every write is verified
/// against the digest while it streams; a blob is visible only once complete (temp file + rename).
/// </summary>
public interface IContentStore
{
    /// <summary>True when the blob is present (and marks it used, for LRU eviction).</summary>
    ValueTask<bool> ContainsAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>The digests among <paramref name="digests"/> that are absent (present ones are touched).</summary>
    ValueTask<IReadOnlyList<Digest>> FindMissingAsync(IReadOnlyList<Digest> digests, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading, or returns null when it is absent. The caller disposes the stream.</summary>
    ValueTask<Stream?> OpenReadAsync(Digest digest, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="content"/> under <paramref name="expected"/>, reading it to its end (at
    /// most one byte past the expected size) and verifying size and hash. Mismatch, truncation,
    /// over-size and a full disk are results, not exceptions, and never leave a partial blob or
    /// remove one already stored. Exceptions from <paramref name="content"/> itself pass through.
    /// </summary>
    ValueTask<PutResult> PutAsync(Digest expected, Stream content, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="content"/> whose digest the store computes.</summary>
    ValueTask<PutResult> PutAsync(Stream content, CancellationToken cancellationToken);
}

/// <summary>How a write to the store ended.</summary>
public enum PutStatus
{
    /// <summary>The blob was written.</summary>
    Stored,

    /// <summary>The blob was already present; nothing was written.</summary>
    AlreadyPresent,

    /// <summary>The bytes do not hash to the expected digest.</summary>
    DigestMismatch,

    /// <summary>The stream ended before the expected size (or went past it).</summary>
    SizeMismatch,

    /// <summary>The blob is larger than the store accepts.</summary>
    TooLarge,

    /// <summary>The disk is full (or the store's cap cannot be met by eviction).</summary>
    NoSpace,
}

/// <summary>The result of a write: its status, the digest stored, and a message for errors.</summary>
public readonly record struct PutResult(PutStatus Status, Digest Digest, string? Message)
{
    /// <summary>True when the blob is in the store afterwards.</summary>
    public bool Ok => Status is PutStatus.Stored or PutStatus.AlreadyPresent;
}
