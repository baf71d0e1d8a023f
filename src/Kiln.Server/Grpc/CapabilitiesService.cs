using Build.Bazel.Remote.Execution.V2;
using Build.Bazel.Semver;

namespace Kiln.Server.Grpc;

/// <summary>
/// <c>build.bazel.remote.execution.v2.Capabilities</c>: what this cache offers. Bazel calls it first
/// and stops (exit 34) unless SHA-256 is listed and, because it uploads results by default,
/// <c>update_enabled</c> is true.
/// </summary>
internal sealed class CapabilitiesService
{
    /// <summary>The full path of GetCapabilities.</summary>
    public const string GetCapabilitiesPath = "/build.bazel.remote.execution.v2.Capabilities/GetCapabilities";

    /// <summary>The answer, the same for every caller (update rights per caller come with authentication).</summary>
    public static ServerCapabilities Capabilities()
    {
        var cache = new CacheCapabilities
        {
            ActionCacheUpdateCapabilities = new ActionCacheUpdateCapabilities { UpdateEnabled = true },
            CachePriorityCapabilities = new PriorityCapabilities
            {
                Priorities = { new PriorityCapabilities.Types.PriorityRange { MinPriority = 0, MaxPriority = 0 } },
            },
            MaxBatchTotalSizeBytes = GrpcLimits.MaxBatchTotalSize,
            // Symlink targets are stored as the client gives them; the cache never follows them.
            SymlinkAbsolutePathStrategy = SymlinkAbsolutePathStrategy.Types.Value.Allowed,
        };
        cache.DigestFunctions.Add(DigestFunction.Types.Value.Sha256);
        return new ServerCapabilities
        {
            CacheCapabilities = cache,
            LowApiVersion = new SemVer { Major = 2, Minor = 0 },
            HighApiVersion = new SemVer { Major = 2, Minor = 3 },
        };
    }

    /// <summary>Serves GetCapabilities.</summary>
    public static async ValueTask<GrpcStatus> GetCapabilitiesAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var request = await call.ReadUnaryAsync(GetCapabilitiesRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (!request.IsMessage)
        {
            return request.Status;
        }

        return await call.WriteMessageAsync(Capabilities(), cancellationToken).ConfigureAwait(false);
    }
}
