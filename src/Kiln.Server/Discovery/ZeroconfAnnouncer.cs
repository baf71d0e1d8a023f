using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Discovery;

/// <summary>
/// Hosted service that announces the node by DNS-SD over multicast DNS once its listeners are bound:
/// one <see cref="MulticastDnsResponder"/> per advertised interface address.
/// </summary>
internal sealed class ZeroconfAnnouncer(
    KilnNodeOptions options, NodeListeners listeners, CompileExecutor executor, IHostApplicationLifetime lifetime, ILogger<ZeroconfAnnouncer> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Ports asked as 0 are known only once Kestrel has started.
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var compilers = await CompilerFacts.ProbeAsync("gcc", stoppingToken).ConfigureAwait(false);
        var kilnPort = listeners.Kiln!.IPEndPoint!.Port;
        int? distccPort = listeners.Distcc?.IPEndPoint?.Port;
        var hostLabel = NodeAdvertisement.HostLabel(options.NodeName);
        var addresses = options.Advertise.Count > 0 ? options.Advertise : Core.Discovery.MulticastDns.DefaultInterfaceAddresses();
        var responders = addresses.Select(address => new MulticastDnsResponder(
            address,
            hostLabel,
            () => NodeAdvertisement.Registrations(options.NodeName, hostLabel + ".local", kilnPort, distccPort, executor.Slots, executor.FreeSlots, compilers),
            logger)).ToList();
        await Task.WhenAll(responders.Select(r => r.RunAsync(stoppingToken))).ConfigureAwait(false);
    }
}
