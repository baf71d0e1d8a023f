using System.Buffers;
using Google.Bytestream;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;

namespace Kiln.Server.Grpc;

/// <summary>
/// <c>google.bytestream.ByteStream</c> over the CAS: Read streams a blob in chunks from an offset,
/// Write streams a blob into the store while verifying it (finishing at once when the blob is
/// already there), QueryWriteStatus says whether an upload is complete. Uploads are not resumable
/// mid-blob: an interrupted one starts again from 0.
/// </summary>
internal sealed class ByteStreamService(IContentStore store)
{
    /// <summary>The full path of Read.</summary>
    public const string ReadPath = "/google.bytestream.ByteStream/Read";

    /// <summary>The full path of Write.</summary>
    public const string WritePath = "/google.bytestream.ByteStream/Write";

    /// <summary>The full path of QueryWriteStatus.</summary>
    public const string QueryWriteStatusPath = "/google.bytestream.ByteStream/QueryWriteStatus";

    /// <summary>Serves Read: the blob from <c>read_offset</c>, at most <c>read_limit</c> bytes (0 = to the end).</summary>
    public async ValueTask<GrpcStatus> ReadAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(ReadRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        if (!ByteStreamResource.TryParseRead(request.ResourceName, out var resource, out var error))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, error);
        }

        var digest = resource.Digest;
        if (request.ReadOffset < 0 || request.ReadOffset > digest.Size)
        {
            return GrpcStatus.Of(GrpcStatusCode.OutOfRange, $"read_offset {request.ReadOffset} is outside blob {digest}");
        }

        if (request.ReadLimit < 0)
        {
            return GrpcStatus.Of(GrpcStatusCode.OutOfRange, $"read_limit {request.ReadLimit} is negative");
        }

        var remaining = digest.Size - request.ReadOffset;
        if (request.ReadLimit > 0)
        {
            remaining = Math.Min(remaining, request.ReadLimit);
        }

        if (digest == Digest.Empty)
        {
            return GrpcStatus.Ok;
        }

        var stream = await store.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return GrpcStatus.Of(GrpcStatusCode.NotFound, $"blob {digest} is not in the CAS");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(GrpcLimits.ReadChunkSize);
        try
        {
            await using (stream.ConfigureAwait(false))
            {
                if (!await SkipAsync(stream, request.ReadOffset, buffer, cancellationToken).ConfigureAwait(false))
                {
                    return GrpcStatus.Of(GrpcStatusCode.DataLoss, $"blob {digest} is shorter in the store than its digest says");
                }

                while (remaining > 0)
                {
                    var want = (int)Math.Min(remaining, GrpcLimits.ReadChunkSize);
                    var n = await stream.ReadAtLeastAsync(buffer.AsMemory(0, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    if (n < want)
                    {
                        return GrpcStatus.Of(GrpcStatusCode.DataLoss, $"blob {digest} is shorter in the store than its digest says");
                    }

                    await call.WriteReadResponseAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    remaining -= n;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return GrpcStatus.Ok;
    }

    /// <summary>
    /// Serves Write: verifies the data against the digest in the resource name and stores it;
    /// INVALID_ARGUMENT on any mismatch, with nothing stored. A blob already present (or empty)
    /// answers <c>committed_size</c> = its size at once, whatever the client still sends.
    /// </summary>
    public async ValueTask<GrpcStatus> WriteAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var first = await call.ReadMessageAsync(WriteRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (first.Message is not { } request)
        {
            return first.IsEnd ? GrpcStatus.Of(GrpcStatusCode.InvalidArgument, "the Write stream ended without a request") : first.Status;
        }

        if (!ByteStreamResource.TryParseWrite(request.ResourceName, out var resource, out var error))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, error);
        }

        if (request.WriteOffset != 0)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"write_offset {request.WriteOffset} does not resume anything: QueryWriteStatus reports no partial upload, start at 0");
        }

        var digest = resource.Digest;
        if (digest == Digest.Empty || await store.ContainsAsync(digest, cancellationToken).ConfigureAwait(false))
        {
            return await Committed(call, digest.Size, cancellationToken).ConfigureAwait(false);
        }

        var content = new WriteRequestStream(call, request, digest.Size);
        PutResult put;
        await using (content.ConfigureAwait(false))
        {
            try
            {
                put = await store.PutAsync(digest, content, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException) when (!content.Error.IsOk)
            {
                return content.Error;
            }
        }

        if (!content.Error.IsOk)
        {
            return content.Error;
        }

        if (!content.Finished)
        {
            // The store reads its stream to the end, which ends in finish_write or an error; this is a guard.
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"the Write stream stopped after {content.Received} bytes without finish_write");
        }

        var status = RequestChecks.FromPut(put, digest);
        return status.IsOk ? await Committed(call, digest.Size, cancellationToken).ConfigureAwait(false) : status;
    }

    /// <summary>Serves QueryWriteStatus: complete with the full size when the blob is stored, else NOT_FOUND.</summary>
    public async ValueTask<GrpcStatus> QueryWriteStatusAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(QueryWriteStatusRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        if (!ByteStreamResource.TryParseWrite(request.ResourceName, out var resource, out var error))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, error);
        }

        var digest = resource.Digest;
        if (digest != Digest.Empty && !await store.ContainsAsync(digest, cancellationToken).ConfigureAwait(false))
        {
            // Partial uploads are not kept: the client restarts the upload from offset 0.
            return GrpcStatus.Of(GrpcStatusCode.NotFound, $"no upload of {digest} is stored");
        }

        var response = new QueryWriteStatusResponse { CommittedSize = digest.Size, Complete = true };
        return await call.WriteMessageAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private static ValueTask<GrpcStatus> Committed(GrpcCall call, long size, CancellationToken cancellationToken) =>
        call.WriteMessageAsync(new WriteResponse { CommittedSize = size }, cancellationToken);

    private static async ValueTask<bool> SkipAsync(Stream stream, long offset, byte[] buffer, CancellationToken cancellationToken)
    {
        if (offset == 0)
        {
            return true;
        }

        if (stream.CanSeek)
        {
            stream.Seek(offset, SeekOrigin.Begin);
            return true;
        }

        while (offset > 0)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(offset, buffer.Length)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            offset -= n;
        }

        return true;
    }
}
