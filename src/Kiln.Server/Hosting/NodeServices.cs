using Kiln.Server.Cache;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>Registers the services of each node feature.</summary>
internal static class NodeServices
{
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        _ = services;
        _ = options;
        services.AddSingleton<CacheCounters>();
    }
}
