using System.Runtime.InteropServices;
using Build.Bazel.Remote.Execution.V2;
using Google.Protobuf;
using Kiln.Core.Cas;
using Digest = Kiln.Core.Hashing.Digest;
using ProtoDigest = Build.Bazel.Remote.Execution.V2.Digest;

namespace Kiln.Server.Grpc;

/// <summary>
/// <c>build.bazel.remote.execution.v2.ContentAddressableStorage</c> on the node's content store:
/// FindMissingBlobs (exact), BatchUpdateBlobs and BatchReadBlobs (per-blob statuses). The empty blob
/// is always present, stored or not.
/// </summary>
internal sealed class ContentStorageService(IContentStore store)
{
    /// <summary>The full path of FindMissingBlobs.</summary>
    public const string FindMissingBlobsPath = "/build.bazel.remote.execution.v2.ContentAddressableStorage/FindMissingBlobs";

    /// <summary>The full path of BatchUpdateBlobs.</summary>
    public const string BatchUpdateBlobsPath = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchUpdateBlobs";

    /// <summary>The full path of BatchReadBlobs.</summary>
    public const string BatchReadBlobsPath = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs";

    /// <summary>Serves FindMissingBlobs: the absent subset, in request order; present blobs are touched by the store.</summary>
    public async ValueTask<GrpcStatus> FindMissingBlobsAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(FindMissingBlobsRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        var check = RequestChecks.DigestFunctionServed(request.DigestFunction);
        if (!check.IsOk)
        {
            return check;
        }

        var asked = new List<Digest>(request.BlobDigests.Count);
        foreach (var message in request.BlobDigests)
        {
            if (!DigestMessages.TryParse(message, out var digest))
            {
                return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"'{DigestMessages.Describe(message)}' is not a SHA-256 digest");
            }

            if (digest != Digest.Empty)
            {
                asked.Add(digest);
            }
        }

        var missing = asked.Count == 0 ? [] : await store.FindMissingAsync(asked, cancellationToken).ConfigureAwait(false);
        var response = new FindMissingBlobsResponse();
        foreach (var digest in missing)
        {
            response.MissingBlobDigests.Add(DigestMessages.ToMessage(digest));
        }

        return await call.WriteMessageAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Serves BatchUpdateBlobs: each blob verified and stored on its own, with its own status.</summary>
    public async ValueTask<GrpcStatus> BatchUpdateBlobsAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(BatchUpdateBlobsRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        var check = RequestChecks.DigestFunctionServed(request.DigestFunction);
        if (!check.IsOk)
        {
            return check;
        }

        long total = 0;
        foreach (var blob in request.Requests)
        {
            total += blob.Data.Length;
        }

        if (total > GrpcLimits.MaxBatchTotalSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"batch of {total} bytes is above max_batch_total_size_bytes ({GrpcLimits.MaxBatchTotalSize}); use ByteStream.Write");
        }

        var response = new BatchUpdateBlobsResponse();
        foreach (var blob in request.Requests)
        {
            var status = await UpdateOneAsync(blob, cancellationToken).ConfigureAwait(false);
            response.Responses.Add(new BatchUpdateBlobsResponse.Types.Response
            {
                Digest = blob.Digest ?? new ProtoDigest(),
                Status = RequestChecks.ToMessage(status),
            });
        }

        return await call.WriteMessageAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Serves BatchReadBlobs: each blob's bytes, or NOT_FOUND for that blob alone.</summary>
    public async ValueTask<GrpcStatus> BatchReadBlobsAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(BatchReadBlobsRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        var check = RequestChecks.DigestFunctionServed(request.DigestFunction);
        if (!check.IsOk)
        {
            return check;
        }

        long total = 0;
        foreach (var message in request.Digests)
        {
            // Invalid digests get their own status below; only sane sizes count towards the limit.
            total += Math.Max(0, message.SizeBytes);
        }

        if (total > GrpcLimits.MaxBatchTotalSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"batch of {total} bytes is above max_batch_total_size_bytes ({GrpcLimits.MaxBatchTotalSize}); use ByteStream.Read");
        }

        var response = new BatchReadBlobsResponse();
        foreach (var message in request.Digests)
        {
            var (status, data) = await ReadOneAsync(message, cancellationToken).ConfigureAwait(false);
            response.Responses.Add(new BatchReadBlobsResponse.Types.Response
            {
                Digest = message,
                Data = data,
                Status = RequestChecks.ToMessage(status),
            });
        }

        return await call.WriteMessageAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<GrpcStatus> UpdateOneAsync(BatchUpdateBlobsRequest.Types.Request blob, CancellationToken cancellationToken)
    {
        if (!DigestMessages.TryParse(blob.Digest, out var digest))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"'{DigestMessages.Describe(blob.Digest)}' is not a SHA-256 digest");
        }

        if (blob.Compressor != Compressor.Types.Value.Identity)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"compressor {blob.Compressor} is not accepted (none is advertised)");
        }

        if (blob.Data.Length != digest.Size)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"data is {blob.Data.Length} bytes, digest {digest} says {digest.Size}");
        }

        if (digest == Digest.Empty)
        {
            return GrpcStatus.Ok;
        }

        // ByteString keeps its bytes in an array: the store reads them in place.
        var memory = blob.Data.Memory;
        using var content = MemoryMarshal.TryGetArray(memory, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(memory.ToArray(), writable: false);
        var result = await store.PutAsync(digest, content, cancellationToken).ConfigureAwait(false);
        return RequestChecks.FromPut(result, digest);
    }

    private async ValueTask<(GrpcStatus Status, ByteString Data)> ReadOneAsync(ProtoDigest message, CancellationToken cancellationToken)
    {
        if (!DigestMessages.TryParse(message, out var digest))
        {
            return (GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"'{DigestMessages.Describe(message)}' is not a SHA-256 digest"), ByteString.Empty);
        }

        if (digest == Digest.Empty)
        {
            return (GrpcStatus.Ok, ByteString.Empty);
        }

        var bytes = await ReadBlobAsync(store, digest, cancellationToken).ConfigureAwait(false);
        return bytes is null
            ? (GrpcStatus.Of(GrpcStatusCode.NotFound, $"blob {digest} is not in the CAS"), ByteString.Empty)
            : (GrpcStatus.Ok, UnsafeByteOperations.UnsafeWrap(bytes));
    }

    /// <summary>
    /// Reads a whole blob (the caller bounds its size), or null when it is absent or shorter than its
    /// digest says (a blob the store cannot produce whole counts as missing).
    /// </summary>
    public static async ValueTask<byte[]?> ReadBlobAsync(IContentStore store, Digest digest, CancellationToken cancellationToken)
    {
        var stream = await store.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            var bytes = new byte[digest.Size];
            var n = await stream.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return n == bytes.Length ? bytes : null;
        }
    }
}
