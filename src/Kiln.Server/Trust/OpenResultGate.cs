using Kiln.Core.Hashing;

namespace Kiln.Server.Trust;

/// <summary>The gate of a node without a trust policy: every complete entry is served (k = 0).</summary>
internal sealed class OpenResultGate : IResultGate
{
    public ValueTask<bool> MayServeAsync(string ns, string key, Digest value, ResultConsumer consumer, CancellationToken cancellationToken) =>
        ValueTask.FromResult(true);
}
