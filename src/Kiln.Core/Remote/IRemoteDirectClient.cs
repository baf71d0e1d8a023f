using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;

namespace Kiln.Core.Remote;

/// <summary>
/// Remote direct mode (docs/cache.md): a client whose node keeps manifests, so a compile whose
/// headers are unchanged is answered without the local preprocessor. Only the Kiln protocol over
/// TCP has it.
/// </summary>
public interface IRemoteDirectClient
{
    /// <summary>
    /// Asks <paramref name="host"/> for the manifest of <paramref name="manifestKey"/> that this
    /// client's identity recorded, takes the first entry <paramref name="matches"/> accepts (its files
    /// still have their digests here) and fetches its result. Null on any miss or failure: the
    /// compile then goes the ordinary way, and that way reports a failing node.
    /// </summary>
    Task<RemoteDirectHit?> LookUpDirectAsync(HostSpec host, ActionKey manifestKey, Func<KilnManifestEntry, bool> matches, CancellationToken cancellationToken);

    /// <summary>
    /// Tells <paramref name="host"/>, on the connection its last job to it used, which files led to
    /// that job's input. Nothing is waited for, and nothing is reported when it cannot be sent.
    /// </summary>
    Task RecordAsync(HostSpec host, ActionKey manifestKey, KilnManifestEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// True when <paramref name="host"/>'s last WELCOME said it keeps manifests (LOOKUP, FETCH and
    /// RECORD): a node started with <c>--result-cache off</c> does not, and a compile it answered need
    /// not work out which files led to its input.
    /// </summary>
    bool KeepsManifests(HostSpec host);

    /// <summary>True when <paramref name="host"/>'s last WELCOME offered remote preprocessing (PREPROCESS).</summary>
    bool PreprocessesRemotely(HostSpec host);

    /// <summary>
    /// Sends a compile for <paramref name="host"/> to preprocess itself (remote preprocessing,
    /// docs/cache.md) and returns its answer as a compile's: completed, busy, refused or failed.
    /// </summary>
    Task<RemoteCompileReply> PreprocessAsync(HostSpec host, KilnPreprocessJob job, CancellationToken cancellationToken);
}

/// <summary>A remote direct-mode hit: the entry whose files matched, and its stored result.</summary>
public sealed record RemoteDirectHit(KilnManifestEntry Entry, CompileOutcome Outcome);
