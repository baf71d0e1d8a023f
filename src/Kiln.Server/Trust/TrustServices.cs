using Kiln.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Kiln.Server.Trust;

/// <summary>Registers the node's trust: its key, attestation store, gate, witness, exchange and rebuild checker.</summary>
public static class TrustServices
{
    /// <summary>Adds the trust services (replacing the open gate and silent witness).</summary>
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<NodeTrust>();
        services.AddSingleton<TrustCounters>();
        // The host disposes it when the node stops.
        services.AddSingleton(_ => new AttestationStore(options.DataDirectory));
        services.AddSingleton<AttestationIntake>();
        services.AddSingleton<IResultGate, PolicyResultGate>();
        services.AddSingleton<IResultWitness, SigningResultWitness>();
        services.AddSingleton<AttestationExchange>();
        services.AddHostedService(sp => sp.GetRequiredService<AttestationExchange>());
        services.AddSingleton<RebuildChecker>();
        services.AddHostedService(sp => sp.GetRequiredService<RebuildChecker>());
    }
}
