using Kiln.Core.Hashing;

namespace Kiln.Server.Trust;

/// <summary>
/// Decides whether a result found in the action cache may be served to a consumer. Every front end
/// asks before it answers a hit; a result the gate refuses is a miss, and the work is done.
/// </summary>
public interface IResultGate
{
    /// <summary>
    /// True when the entry <paramref name="key"/> of <paramref name="ns"/> (the action cache's
    /// namespace, for example "kiln", "ccache", "bazel-ac"), whose value is <paramref name="value"/>,
    /// may be served to <paramref name="consumer"/>.
    /// </summary>
    ValueTask<bool> MayServeAsync(string ns, string key, Digest value, ResultConsumer consumer, CancellationToken cancellationToken);
}
