using Kiln.Cli.LocalCache;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;

namespace Kiln.Cli.Cc;

/// <summary>
/// Remote direct mode (docs/cache.md): before preprocessing, ask one Kiln node for the manifest this
/// user recorded under the compile's manifest key; when an entry's files all still have their
/// digests here, fetch its result and the compile is done without the preprocessor. After a compile
/// a node answered, tell that node which files led to it.
/// </summary>
internal sealed partial class CompileDriver
{
    /// <summary>
    /// The node remote direct mode asks: among the Kiln protocol TCP hosts, the one the manifest key
    /// picks by rendezvous hashing, so every client of a build asks the same node for the same compile.
    /// </summary>
    private static HostSpec? DirectHost(IReadOnlyList<HostSpec> hosts, ActionKey manifestKey)
    {
        HostSpec? best = null;
        ulong bestScore = 0;
        foreach (var host in hosts)
        {
            if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
            {
                continue;
            }

            var score = Fnv1a(manifestKey.Hex + "@" + host.Host + ":" + host.EffectivePort);
            if (best is null || score > bestScore)
            {
                best = host;
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>The exit code when a node answered the compile by its manifest; null to go on the ordinary way.</summary>
    private async Task<int?> LookUpRemotelyAsync(CompileCommand command, IReadOnlyList<HostSpec> hosts, LocalLookup local, CancellationToken cancellationToken)
    {
        if (!_settings.RemoteDirect || local.ManifestKey.IsNone || DirectHost(hosts, local.ManifestKey) is not { } host
            || _clients(host) is not IRemoteDirectClient client)
        {
            return null;
        }

        var cwd = _settings.WorkingDirectory;
        var digests = local.Digests ?? new FileDigests(cwd);
        bool Matches(KilnManifestEntry entry) => (entry.DependencyFile is not null) == command.WritesDependencyFile && digests.AllMatch(entry.Files);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.RemoteTimeout);
        RemoteDirectHit? hit;
        try
        {
            hit = await client.LookUpDirectAsync(host, local.ManifestKey, Matches, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            hit = null;
        }

        PhaseTrace.Mark("cc", "remote-direct");
        if (hit is null)
        {
            return null;
        }

        var outcome = hit.Outcome;
        if ((hit.Entry.DependencyFile is { } dependency && WriteObject(Path.Combine(cwd, command.DependencyFile!), dependency.ToArray()) is not null)
            || WriteObject(Path.Combine(cwd, command.Output), outcome.Object) is not null)
        {
            // The ordinary way meets the same obstacle and reports it in the compiler's words.
            return null;
        }

        if (local.Cache is { } cache)
        {
            // The next compile of this file finds it here.
            cache.PutResult(hit.Entry.ClientKey, new CachedCompile(outcome.Object, outcome.Stdout, outcome.Stderr));
            cache.RecordDirect(local.ManifestKey, new ManifestEntry(hit.Entry.Files, hit.Entry.ClientKey, hit.Entry.DependencyFile?.ToArray()));
        }

        Verbose($"kiln: {command.Source} from the result cache of {host.Display} (direct mode)");
        _decisions.Hit(command.Source, host.Display, "remote direct mode: the node's manifest matched the headers' digests, no preprocessor ran");
        Write(_console.Stdout, outcome.Stdout);
        Write(_console.Stderr, outcome.Stderr);
        return 0;
    }

    /// <summary>Tells the node that answered a compile which files led to it (remote direct mode's manifests).</summary>
    private async Task RecordRemotelyAsync(HostSpec host, LocalLookup local, ManifestEntry? manifest, CancellationToken cancellationToken)
    {
        if (!_settings.RemoteDirect || manifest is null || local.ManifestKey.IsNone || _clients(host) is not IRemoteDirectClient client)
        {
            return;
        }

        // Not a conditional or a plain conversion: a null byte[] would become a present, empty dependency file.
        ReadOnlyMemory<byte>? dependency = null;
        if (manifest.DependencyFile is { } file)
        {
            dependency = file;
        }

        await client.RecordAsync(host, local.ManifestKey, new KilnManifestEntry(manifest.Key, ActionKey.None, manifest.Files, dependency),
            cancellationToken).ConfigureAwait(false);
        PhaseTrace.Mark("cc", "recorded");
    }
}
