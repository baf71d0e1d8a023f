using Kiln.Core.Hashing;
using Kiln.Core.Trust;

namespace Kiln.Server.Trust;

/// <summary>
/// The gate that holds every front end to its consumer's policy: a stored result is served only
/// when at least k distinct trusted owners attested that very ResultDigest for the entry's action and
/// no other result reaches k; otherwise the hit is a miss. A consumer whose policy has k = 0 and no
/// keys (the default) is served every complete entry, as a plain cache.
/// </summary>
public sealed class PolicyResultGate(NodeTrust trust, AttestationStore store, TrustCounters counters) : IResultGate
{
    /// <inheritdoc/>
    public ValueTask<bool> MayServeAsync(string ns, string key, Digest value, ResultConsumer consumer, CancellationToken cancellationToken)
    {
        var served = MayServe(consumer.Policy ?? trust.Default, ns, key, value, store);
        counters.Gate(served);
        return ValueTask.FromResult(served);
    }

    /// <summary>The decision alone (the benchmarks time this).</summary>
    public static bool MayServe(TrustPolicy policy, string ns, string key, Digest value, AttestationStore store)
    {
        if (policy.K == 0 && policy.Keys.Keys.Count == 0)
        {
            return true;
        }

        var action = AttestationSubject.Of(ns, key);
        return policy.Decide(action, store.ForAction(action), candidate: value).IsAccepted;
    }
}
