using System.Buffers;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Cache;

/// <summary>
/// The Bazel HTTP cache (<c>--remote_cache=http://node:3633/bazel</c>), with bazel-remote's optional
/// instance prefix: <c>/bazel/[instance/](ac|cas)/&lt;sha256&gt;</c>. CAS uploads are verified against
/// the digest while they stream (the size is the Content-Length); AC uploads must be ActionResult
/// protobufs and are stored in the action cache namespace <see cref="Namespace"/> with the blobs they
/// name as references, so an entry whose outputs were evicted is a miss. The empty blob always exists.
/// GET misses are 404; Bazel treats 404 as a miss and any other error as a warning.
/// </summary>
public static class BazelHttpEndpoints
{
    /// <summary>The action cache namespace of Bazel ActionResults.</summary>
    public const string Namespace = "bazel-ac";

    /// <summary>The URL prefix.</summary>
    public const string Prefix = "/bazel/";

    /// <summary>
    /// The largest ActionResult accepted. gRPC caps REAPI messages at 4 MiB by default; 16 MiB leaves
    /// room for results with many outputs while bounding what one request may buffer.
    /// </summary>
    public const int MaxActionResultBytes = 16 << 20;

    private const string Allowed = "GET, HEAD, PUT";

    /// <summary>Maps the Bazel HTTP cache routes.</summary>
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        // The same cache under /p/NAME/bazel/: the consumer names its trust policy by URL (docs/trust.md).
        endpoints.Map(Trust.PolicyRoute.Prefix + "{policy}" + Prefix + "{**path}", HandleAsync);
        return endpoints.Map(Prefix + "{**path}", HandleAsync);
    }

    private static Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (!isRead && !HttpMethods.IsPut(method))
        {
            return CacheResponses.MethodNotAllowedAsync(context, Allowed);
        }

        var path = Trust.PolicyRoute.Strip(context.Request.Path.Value ?? "", out _).AsSpan(Prefix.Length);
        if (!BazelPathParser.TryParse(path, out var parsed, out var error))
        {
            return CacheResponses.TextAsync(context, StatusCodes.Status400BadRequest, error);
        }

        return (parsed.Kind, isRead) switch
        {
            (BazelCacheKind.ContentStore, true) => GetBlobAsync(context, parsed.Hex),
            (BazelCacheKind.ContentStore, false) => PutBlobAsync(context, parsed.Hex),
            (BazelCacheKind.ActionCache, true) => GetActionResultAsync(context, parsed.Hex),
            _ => PutActionResultAsync(context, parsed.Hex),
        };
    }

    private static async Task GetBlobAsync(HttpContext context, string hex)
    {
        var counters = context.RequestServices.GetRequiredService<CacheCounters>().BazelContentStore;

        // The HTTP protocol names blobs by hash alone; the size comes from the stored blob.
        _ = Digest.TryParse(hex, 0, out var probe);
        if (probe == Digest.Empty)
        {
            counters.Hit(0);
            await CacheResponses.EmptyAsync(context, StatusCodes.Status200OK).ConfigureAwait(false);
            return;
        }

        var store = context.RequestServices.GetRequiredService<IContentStore>();
        var blob = await BlobLookup.OpenByHashAsync(store, probe, context.RequestAborted).ConfigureAwait(false);
        await AnswerReadAsync(context, counters, blob, blob?.Length ?? 0, "no such blob").ConfigureAwait(false);
    }

    private static async Task PutBlobAsync(HttpContext context, string hex)
    {
        var counters = context.RequestServices.GetRequiredService<CacheCounters>().BazelContentStore;
        if (context.Request.ContentLength is not { } length)
        {
            await CacheUploads.RefuseAsync(context, counters, StatusCodes.Status411LengthRequired, "PUT needs a Content-Length (the blob's size)").ConfigureAwait(false);
            return;
        }

        _ = Digest.TryParse(hex, length, out var expected);
        if (expected == Digest.Empty)
        {
            counters.Wrote(0);
            await CacheResponses.EmptyAsync(context, StatusCodes.Status200OK).ConfigureAwait(false);
            return;
        }

        // A present blob is not rewritten, but its upload is still checked: a client that sends
        // other bytes under its digest hears so, as it would for an absent blob.
        var store = context.RequestServices.GetRequiredService<IContentStore>();
        // The presence check ignores RequestAborted: a client that is already gone must still be
        // answered (and counted) as a refused upload, not end the request with an exception.
        var result = await store.ContainsAsync(expected, CancellationToken.None).ConfigureAwait(false)
            ? await CacheUploads.VerifyBodyAsync(expected, context).ConfigureAwait(false)
            : await CacheUploads.PutBodyAsync(store, expected, context).ConfigureAwait(false);
        if (!result.Ok)
        {
            await CacheUploads.FailureAsync(context, counters, "bazel-cas", hex, result).ConfigureAwait(false);
            return;
        }

        counters.Wrote(length);
        var status = result.Status == PutStatus.Stored ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        await CacheResponses.EmptyAsync(context, status).ConfigureAwait(false);
    }

    private static async Task GetActionResultAsync(HttpContext context, string hex)
    {
        var cancellationToken = context.RequestAborted;
        var services = context.RequestServices;
        var counters = services.GetRequiredService<CacheCounters>().BazelActionCache;
        var entry = await services.GetRequiredService<IActionCache>().GetAsync(Namespace, hex, cancellationToken).ConfigureAwait(false);
        if (entry is not null && !await Trust.PolicyRoute.MayServeAsync(context, "bazel-http", Namespace, hex, entry.Value).ConfigureAwait(false))
        {
            // The consumer's policy does not hold for this result: a miss, and Bazel runs the action.
            entry = null;
        }

        var blob = entry is null
            ? null
            : await services.GetRequiredService<IContentStore>().OpenReadAsync(entry.Value, cancellationToken).ConfigureAwait(false);
        await AnswerReadAsync(context, counters, blob, entry?.Value.Size ?? 0, "no such action result").ConfigureAwait(false);
    }

    private static Task AnswerReadAsync(HttpContext context, CacheFrontEndCounters counters, Stream? blob, long length, string miss)
    {
        if (blob is null)
        {
            counters.Miss();
            return CacheResponses.TextAsync(context, StatusCodes.Status404NotFound, miss);
        }

        counters.Hit(HttpMethods.IsHead(context.Request.Method) ? 0 : length);
        return CacheResponses.BlobAsync(context, blob, length, context.RequestAborted);
    }

    private static async Task PutActionResultAsync(HttpContext context, string hex)
    {
        var services = context.RequestServices;
        var counters = services.GetRequiredService<CacheCounters>().BazelActionCache;
        if (context.Request.ContentLength is not { } length)
        {
            await CacheUploads.RefuseAsync(context, counters, StatusCodes.Status411LengthRequired, "PUT needs a Content-Length").ConfigureAwait(false);
            return;
        }

        if (length > MaxActionResultBytes)
        {
            await CacheUploads.RefuseAsync(context, counters, StatusCodes.Status413PayloadTooLarge, $"an ActionResult may have at most {MaxActionResultBytes} bytes").ConfigureAwait(false);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            var bytes = buffer.AsMemory(0, (int)length);
            var readError = await ReadBodyAsync(context, bytes).ConfigureAwait(false);
            if (readError is not null)
            {
                await CacheUploads.FailureAsync(context, counters, Namespace, hex, new PutResult(PutStatus.SizeMismatch, default, readError)).ConfigureAwait(false);
                return;
            }

            var references = new List<Digest>();
            if (!ActionResultReader.TryReadReferences(bytes.Span, references, out var error))
            {
                await CacheUploads.RefuseAsync(context, counters, StatusCodes.Status400BadRequest,
                    $"not an ActionResult protobuf ({error}); ccache's bazel layout belongs under /ccache/").ConfigureAwait(false);
                return;
            }

            var value = Digest.FromBytes(bytes.Span);
            var store = services.GetRequiredService<IContentStore>();
            var stored = await store.PutAsync(value, new MemoryStream(buffer, 0, (int)length, writable: false), context.RequestAborted).ConfigureAwait(false);
            if (!stored.Ok)
            {
                await CacheUploads.FailureAsync(context, counters, Namespace, hex, stored).ConfigureAwait(false);
                return;
            }

            var entries = services.GetRequiredService<IActionCache>();
            var entry = new ActionEntry(value, references);
            if (!await entries.PutAsync(Namespace, hex, entry, CacheUploads.Writer(context), context.RequestAborted).ConfigureAwait(false))
            {
                // The action cache takes only entries whose blobs are all present (Bazel uploads
                // outputs first); an entry it refuses could never be a hit.
                var missing = await store.FindMissingAsync(references, context.RequestAborted).ConfigureAwait(false);
                await CacheUploads.RefuseAsync(context, counters,
                    missing.Count > 0 ? StatusCodes.Status400BadRequest : StatusCodes.Status507InsufficientStorage,
                    missing.Count > 0
                        ? $"the ActionResult names {missing.Count} blob(s) this cache lacks (first {missing[0]}); upload them to /cas/ first"
                        : "the store evicted the ActionResult as soon as it was written; the cache is too small").ConfigureAwait(false);
                return;
            }

            counters.Wrote(length);
            await CacheResponses.EmptyAsync(context, StatusCodes.Status201Created).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads the whole body into <paramref name="destination"/>; null when it arrived, else why not.</summary>
    private static async ValueTask<string?> ReadBodyAsync(HttpContext context, Memory<byte> destination)
    {
        try
        {
            await context.Request.Body.ReadExactlyAsync(destination, context.RequestAborted).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            return "request body: " + e.Message;
        }
    }
}
