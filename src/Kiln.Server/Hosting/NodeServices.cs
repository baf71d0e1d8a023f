using Kiln.Server.Discovery;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>Registers the services of each node feature.</summary>
internal static class NodeServices
{
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        services.AddSingleton<PeerDirectory>();
        if (options.Zeroconf)
        {
            services.AddHostedService<ZeroconfAnnouncer>();
        }
    }
}
