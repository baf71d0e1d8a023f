using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Cache;

/// <summary><c>GET /api/cache</c>: hits, misses, writes and refusals of each HTTP cache front end, as JSON.</summary>
public static class CacheStatsEndpoint
{
    /// <summary>The route.</summary>
    public const string Path = "/api/cache";

    /// <summary>Maps the route.</summary>
    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Path, WriteAsync);

    private static Task WriteAsync(HttpContext context)
    {
        var counters = context.RequestServices.GetRequiredService<CacheCounters>();
        var json = JsonSerializer.SerializeToUtf8Bytes(counters, CacheJsonContext.Default.CacheCounters);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json, context.RequestAborted).AsTask();
    }
}
