using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Discovery;

/// <summary>
/// Hosted service that announces the node by DNS-SD over multicast DNS once its listeners are bound:
/// one <see cref="MulticastDnsResponder"/> per advertised interface address. It also browses for
/// other Kiln nodes now and then, for <c>GET /api/nodes</c>.
/// </summary>
internal sealed class ZeroconfAnnouncer(
    KilnNodeOptions options, NodeListeners listeners, CompileExecutor executor, PeerDirectory peers, IHostApplicationLifetime lifetime,
    ILogger<ZeroconfAnnouncer> logger)
    : BackgroundService
{
    /// <summary>How often the peer list is refreshed; a browse costs one query packet per interface.</summary>
    private static readonly TimeSpan BrowseInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The first browses come sooner: nodes started together each browse once they answer, and the
    /// ones that start last are found by the others' second or third browse, not after 30 s.
    /// </summary>
    private static readonly TimeSpan[] EarlyBrowses = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5)];

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

        var compilers = peers.Compilers ?? await CompilerFacts.ProbeAsync("gcc", stoppingToken).ConfigureAwait(false);
        var kilnPort = listeners.Kiln!.IPEndPoint!.Port;
        int? distccPort = listeners.Distcc?.IPEndPoint?.Port;
        var hostLabel = NodeAdvertisement.HostLabel(options.NodeName);
        var addresses = options.Advertise.Count > 0 ? options.Advertise : Core.Discovery.MulticastDns.DefaultInterfaceAddresses();
        var responders = addresses.Select(address => new MulticastDnsResponder(
            address,
            hostLabel,
            () => NodeAdvertisement.Registrations(options.NodeName, hostLabel + ".local", kilnPort, distccPort, executor.Slots, executor.FreeSlots, compilers, options.Tags, options.ResultCache),
            logger)).ToList();
        await Task.WhenAll([.. responders.Select(r => r.RunAsync(stoppingToken)), BrowsePeersAsync(addresses, responders, stoppingToken)]).ConfigureAwait(false);
    }

    private async Task BrowsePeersAsync(IReadOnlyList<System.Net.IPAddress> addresses, List<MulticastDnsResponder> responders, CancellationToken stoppingToken)
    {
        try
        {
            // The first browse waits until this node answers, so peers that browse back find it too.
            await Task.WhenAll(responders.Select(r => r.Ready)).WaitAsync(stoppingToken).ConfigureAwait(false);

            for (var round = 0; ; round++)
            {
                var found = await Core.Discovery.ServiceBrowser.BrowseAsync(
                    [Core.Discovery.ServiceTypes.Kiln], addresses, Core.Discovery.ServiceBrowser.DefaultDuration, stoppingToken).ConfigureAwait(false);
                peers.Update(found);
                await Task.Delay(round < EarlyBrowses.Length ? EarlyBrowses[round] : BrowseInterval, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
