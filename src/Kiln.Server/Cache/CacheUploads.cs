using System.Buffers;
using System.Security.Cryptography;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Cache;

/// <summary>
/// Streams request bodies into the content store and turns the outcome into an HTTP answer. A body
/// that ends early (client gone, connection reset) or exceeds Kestrel's limit becomes a failed
/// <see cref="PutResult"/> like any other bad upload: the store keeps nothing of it.
/// </summary>
internal static partial class CacheUploads
{
    /// <summary>Read size when checking an upload of a present blob (the store's copy buffer size).</summary>
    private const int VerifyBufferSize = 128 * 1024;

    /// <summary>Streams the request body into the store, verified against <paramref name="expected"/>, or hashed by the store when null.</summary>
    public static async ValueTask<PutResult> PutBodyAsync(IContentStore store, Digest? expected, HttpContext context)
    {
        var body = context.Request.Body;
        var cancellationToken = context.RequestAborted;
        try
        {
            return expected is { } digest
                ? await store.PutAsync(digest, body, cancellationToken).ConfigureAwait(false)
                : await store.PutAsync(body, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            return BodyFailure(expected, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? PutStatus.TooLarge : PutStatus.SizeMismatch, e.Message);
        }
        catch (IOException e)
        {
            return BodyFailure(expected, PutStatus.SizeMismatch, e.Message);
        }
        catch (OperationCanceledException)
        {
            // Kestrel may throw ConnectionAbortedException (an OperationCanceledException) before
            // RequestAborted is signalled, so the token's state is no test here: the only token in
            // play is the request's own, and either way the body did not arrive whole.
            return BodyFailure(expected, PutStatus.SizeMismatch, "the client closed the connection during the upload");
        }
    }

    /// <summary>
    /// Reads the request body of a blob the store already holds, hashing it, without writing it:
    /// <see cref="PutStatus.AlreadyPresent"/> when it matches <paramref name="expected"/>, else the mismatch.
    /// </summary>
    public static async ValueTask<PutResult> VerifyBodyAsync(Digest expected, HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(VerifyBufferSize);
        long size = 0;
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(0, VerifyBufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(buffer, 0, read);
                size += read;
            }
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            return BodyFailure(expected, PutStatus.SizeMismatch, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var actual = Digest.FromIncremental(hasher, size);
        return actual == expected
            ? new PutResult(PutStatus.AlreadyPresent, expected, null)
            : new PutResult(size == expected.Size ? PutStatus.DigestMismatch : PutStatus.SizeMismatch, expected,
                $"the {size} bytes sent for blob {expected.Hex} hash to {actual.Hex}; the stored blob is unchanged");
    }

    /// <summary>Answers a failed write with its status code and the store's message, and counts it.</summary>
    public static Task FailureAsync(HttpContext context, CacheFrontEndCounters counters, string frontEnd, string key, PutResult result)
    {
        var status = result.Status switch
        {
            PutStatus.TooLarge => StatusCodes.Status413PayloadTooLarge,
            PutStatus.NoSpace => StatusCodes.Status507InsufficientStorage,
            _ => StatusCodes.Status400BadRequest,
        };
        var message = result.Status switch
        {
            PutStatus.DigestMismatch => "content does not match its digest",
            PutStatus.SizeMismatch => "content size does not match (truncated or too long)",
            PutStatus.TooLarge => "blob larger than this node accepts",
            PutStatus.NoSpace => "the node's store is full",
            _ => "upload refused",
        };
        if (!string.IsNullOrEmpty(result.Message))
        {
            message += ": " + result.Message;
        }

        counters.Refuse();
        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Kiln.Server.Cache");
        UploadRefused(logger, frontEnd, key, context.Connection.RemoteIpAddress?.ToString() ?? "unknown", status, message);
        return CacheResponses.TextAsync(context, status, message);
    }

    /// <summary>Answers a refused write whose reason is known before the store is involved, and counts it.</summary>
    public static Task RefuseAsync(HttpContext context, CacheFrontEndCounters counters, int status, string message)
    {
        counters.Refuse();
        return CacheResponses.TextAsync(context, status, message);
    }

    /// <summary>Who wrote an entry, until identities arrive: the peer's address.</summary>
    public static string Writer(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static PutResult BodyFailure(Digest? expected, PutStatus status, string message) =>
        new(status, expected ?? default, "request body: " + message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{FrontEnd} upload of {Key} from {Peer} refused ({Status}): {Reason}")]
    private static partial void UploadRefused(ILogger logger, string frontEnd, string key, string peer, int status, string reason);
}
