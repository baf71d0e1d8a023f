using Kiln.Core.Cas;
using Kiln.Server.Cache;
using Kiln.Server.Discovery;
using Kiln.Server.Trust;
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
        services.AddSingleton<CcacheFastPath>();
        // The gate every front end asks before serving a hit, and the witness told of every result
        // the node computed (Trust/TrustServices).
        TrustServices.Add(services, options);
        services.AddSingleton<CompileCache.CompileResultCache>();
        services.AddSingleton<PeerDirectory>();
        Accounting.AccountingServices.Add(services, options);
        // Identity and audit: tokens in DATA/tokens, the TLS certificate in DATA/tls, DATA/audit.jsonl.
        Security.SecurityServices.Add(services, options);
        if (options.Zeroconf)
        {
            services.AddHostedService<ZeroconfAnnouncer>();
        }
    }
}
