using Kiln.Core.Actions;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;

namespace Kiln.Server.Trust;

/// <summary>Signs an "executed" attestation with the node's key for every result the node computed.</summary>
internal sealed class SigningResultWitness(NodeTrust trust, AttestationIntake intake, TimeProvider time) : IResultWitness
{
    public ValueTask ExecutedAsync(ActionKey key, ActionResult result, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var attestation = Attestation.Create(trust.NodeKey, key, result.ResultDigest, AttestationKind.Executed, time.GetUtcNow());
        _ = intake.Offer(attestation, "self");
        return ValueTask.CompletedTask;
    }
}
