using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Server.Trust;

/// <summary>The witness of a node that signs nothing.</summary>
internal sealed class SilentResultWitness : IResultWitness
{
    public ValueTask ExecutedAsync(ActionKey key, ActionResult result, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
