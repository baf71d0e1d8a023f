using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Server.Trust;

/// <summary>
/// Told of every result this node computed itself, after the result is stored, so that it can be
/// attested ("executed") by the node's key.
/// </summary>
public interface IResultWitness
{
    /// <summary>The node executed the action <paramref name="key"/> and got <paramref name="result"/>.</summary>
    ValueTask ExecutedAsync(ActionKey key, ActionResult result, CancellationToken cancellationToken);
}
