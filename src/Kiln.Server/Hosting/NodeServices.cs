using Kiln.Core.Cas;
using Kiln.Server.Cache;
using Kiln.Server.Discovery;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>Registers the services of each node feature.</summary>
internal static class NodeServices
{
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        services.AddSingleton(options.KilnProtocol);
        services.AddSingleton<Distcc.DistccConnectionHandler>();
        // The store every front end shares; the host disposes it when the node stops.
        services.AddSingleton(_ => FileContentStore.Open(new ContentStoreOptions
        {
            Directory = options.DataDirectory,
            CapacityBytes = options.CacheSizeBytes,
        }));
        services.AddSingleton<IContentStore>(sp => sp.GetRequiredService<FileContentStore>());
        services.AddSingleton(sp => new SqliteActionCache(sp.GetRequiredService<FileContentStore>()));
        services.AddSingleton<IActionCache>(sp => sp.GetRequiredService<SqliteActionCache>());
        services.AddSingleton<CacheCounters>();
        services.AddSingleton<PeerDirectory>();
        if (options.Zeroconf)
        {
            services.AddHostedService<ZeroconfAnnouncer>();
        }
    }
}
