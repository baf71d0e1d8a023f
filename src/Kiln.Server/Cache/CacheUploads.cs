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
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return BodyFailure(expected, PutStatus.SizeMismatch, "the client closed the connection during the upload");
        }
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
