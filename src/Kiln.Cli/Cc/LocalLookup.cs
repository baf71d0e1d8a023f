using Kiln.Cli.LocalCache;
using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.Cc;

/// <summary>
/// What the local cache lookup of one compile left behind: the exit code when it answered the
/// compile; otherwise the cache (null when off), the manifest key, the preprocessor run and the
/// ActionKey it computed, for the rest of the compile to reuse and to fill the cache with.
/// </summary>
internal sealed record LocalLookup(
    int? ExitCode,
    LocalCompileCache? Cache,
    CompilerIdentity? Identity,
    ActionKey ManifestKey,
    CompilerRun? Preprocessed,
    CompileKey? Key)
{
    /// <summary>No local cache for this compile.</summary>
    public static readonly LocalLookup None = new(null, null, null, ActionKey.None, null, null);

    /// <summary>The digests direct mode has read so far, shared by the local and the remote lookup.</summary>
    public FileDigests? Digests { get; init; }
}
