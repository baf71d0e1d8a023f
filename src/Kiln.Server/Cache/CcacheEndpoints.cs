using Kiln.Core.Cas;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Cache;

/// <summary>
/// ccache remote storage (<c>remote_storage=http://node:3633/ccache</c>, any <c>layout=</c>). GET
/// answers 200 with the exact bytes or 404; HEAD 200 or 404; PUT stores and replaces (ccache
/// rewrites manifests under the same key) and answers 201; DELETE answers 204 whether or not the
/// entry was there. These answers satisfy both the built-in client (any 2xx) and the 4.13 helpers
/// (200 hit, 404 miss). The value is a blob in the content store; the entry lives in the action
/// cache namespace <see cref="Namespace"/> under the key's 40-hex form.
/// </summary>
public static class CcacheEndpoints
{
    /// <summary>The action cache namespace of ccache entries.</summary>
    public const string Namespace = "ccache";

    /// <summary>The URL prefix.</summary>
    public const string Prefix = "/ccache/";

    private const string Allowed = "GET, HEAD, PUT, DELETE";

    /// <summary>Maps the ccache routes.</summary>
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints)
    {
        // The same store under /p/NAME/ccache/: the consumer names its trust policy by URL (docs/trust.md).
        endpoints.Map(Trust.PolicyRoute.Prefix + "{policy}" + Prefix + "{**key}", HandleAsync);
        return endpoints.Map(Prefix + "{**key}", HandleAsync);
    }

    private static Task HandleAsync(HttpContext context)
    {
        var method = context.Request.Method;
        var isRead = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (!isRead && !HttpMethods.IsPut(method) && !HttpMethods.IsDelete(method))
        {
            return CacheResponses.MethodNotAllowedAsync(context, Allowed);
        }

        var path = Trust.PolicyRoute.Strip(context.Request.Path.Value ?? "", out _).AsSpan(Prefix.Length);
        if (!CcachePathParser.TryParse(path, out var key, out var error))
        {
            return CacheResponses.TextAsync(context, StatusCodes.Status400BadRequest, error);
        }

        return isRead ? GetAsync(context, key)
            : HttpMethods.IsPut(method) ? PutAsync(context, key)
            : DeleteAsync(context, key);
    }

    private static async Task GetAsync(HttpContext context, CcacheKey key)
    {
        var cancellationToken = context.RequestAborted;
        var counters = context.RequestServices.GetRequiredService<CacheCounters>().Ccache;
        var entries = context.RequestServices.GetRequiredService<IActionCache>();
        var entry = await entries.GetAsync(Namespace, key.Hex, cancellationToken).ConfigureAwait(false);
        if (entry is not null && !await Trust.PolicyRoute.MayServeAsync(context, "ccache", Namespace, key.Hex, entry.Value).ConfigureAwait(false))
        {
            // The consumer's policy does not hold for this entry: a miss, and ccache compiles.
            entry = null;
        }

        var blob = entry is null
            ? null
            : await context.RequestServices.GetRequiredService<IContentStore>().OpenReadAsync(entry.Value, cancellationToken).ConfigureAwait(false);
        if (blob is null)
        {
            counters.Miss();
            await CacheResponses.TextAsync(context, StatusCodes.Status404NotFound, "no such entry").ConfigureAwait(false);
            return;
        }

        counters.Hit(HttpMethods.IsHead(context.Request.Method) ? 0 : entry!.Value.Size);
        await CacheResponses.BlobAsync(context, blob, entry!.Value.Size, cancellationToken).ConfigureAwait(false);
    }

    private static async Task PutAsync(HttpContext context, CcacheKey key)
    {
        var services = context.RequestServices;
        var counters = services.GetRequiredService<CacheCounters>().Ccache;
        var stored = await CacheUploads.PutBodyAsync(services.GetRequiredService<IContentStore>(), null, context).ConfigureAwait(false);
        if (!stored.Ok)
        {
            await CacheUploads.FailureAsync(context, counters, Namespace, key.Hex, stored).ConfigureAwait(false);
            return;
        }

        var entry = new ActionEntry(stored.Digest, []);
        var entries = services.GetRequiredService<IActionCache>();
        if (!await entries.PutAsync(Namespace, key.Hex, entry, CacheUploads.Writer(context), context.RequestAborted).ConfigureAwait(false))
        {
            await CacheUploads.RefuseAsync(context, counters, StatusCodes.Status507InsufficientStorage, "the action cache did not take the entry").ConfigureAwait(false);
            return;
        }

        counters.Wrote(stored.Digest.Size);
        await CacheResponses.EmptyAsync(context, StatusCodes.Status201Created).ConfigureAwait(false);
    }

    private static async Task DeleteAsync(HttpContext context, CcacheKey key)
    {
        var entries = context.RequestServices.GetRequiredService<IActionCache>();
        _ = await entries.DeleteAsync(Namespace, key.Hex, context.RequestAborted).ConfigureAwait(false);
        await CacheResponses.EmptyAsync(context, StatusCodes.Status204NoContent).ConfigureAwait(false);
    }
}
