using Kiln.Cli.LocalCache;
using Kiln.Core.Actions;
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

        if (FactsOf(host) is { } facts && !facts.KeepsManifests)
        {
            // The node said in its last WELCOME that it keeps no manifests (--result-cache off): asking
            // would cost a round trip before the preprocessor, for a refusal.
            PhaseTrace.Mark("cc", "remote-direct-skipped");
            return null;
        }

        if (!History.ShouldAsk())
        {
            // The last LOOKUPs all missed (a cold build): this compile goes the hash-first way, and the
            // node still answers its JOB from the cache if it has the result (RemoteDirectHistory).
            _lookupSkipped = true;
            PhaseTrace.Mark("cc", "remote-direct-predicted-miss");
            return null;
        }

        var cwd = _settings.WorkingDirectory;
        var digests = local.Digests ?? NewFileDigests();
        KilnManifestEntry? newest = null;
        bool Matches(KilnManifestEntry entry)
        {
            newest ??= entry;
            return (entry.DependencyFile is not null) == command.WritesDependencyFile && digests.AllMatch(entry.Files);
        }

        // A file of the newest entry really changed (its recorded digest is one some file had): the node
        // may preprocess the new files. An entry whose only differences are files too new to have a
        // digest may describe these very files, which the ordinary way finds in a cache by ActionKey.
        bool Changed(KilnManifestEntry entry) =>
            entry.Files.Any(f => f.Digest != s_unknownDigest && digests.Read(f.Path).Digest != f.Digest);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        RemoteDirectHit? hit;
        try
        {
            hit = await WithRemoteTimeout(timeout, t => client.LookUpDirectAsync(host, local.ManifestKey, Matches, t)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            hit = null;
        }

        PhaseTrace.Mark("cc", "remote-direct");

        // A build of hits sends no job: its facts of the node (compilers, free slots) stay fresh from here.
        RememberWelcome(host);
        // Only a hit pays for the round trip. A manifest that no longer matches (an edit-compile loop)
        // does not: the compile goes on after the preprocessor (here, or on the node) as it would have.
        History.Record(known: hit is not null);
        if (hit is null)
        {
            if (newest is not null && Changed(newest) && _settings.RemotePreprocess && _settings.PreprocessorVariables.Count == 0 && !command.Arguments.Contains("-MMD")
                && client.PreprocessesRemotely(host))
            {
                // The files changed since: the node can preprocess the new ones itself (remote preprocessing).
                _remoteSources = SourcesOf(command, local.ManifestKey, newest, digests);
                PhaseTrace.Mark("cc", "sources-read");
            }

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

    /// <summary>
    /// The PREPROCESS job for this compile from the files <paramref name="entry"/> names, read now:
    /// content for each file outside /usr, the digest alone for files under it. Null when a file is
    /// unreadable or uses a time macro (its output would differ run to run), or the job is too large
    /// to send.
    /// </summary>
    private KilnPreprocessJob? SourcesOf(CompileCommand command, ActionKey manifestKey, KilnManifestEntry entry, FileDigests digests)
    {
        var cwd = _settings.WorkingDirectory;
        var files = new List<KilnPreprocessFile>(entry.Files.Count);
        foreach (var file in entry.Files)
        {
            var path = Path.Combine(cwd, file.Path);

            // Files under /usr go by digest alone (the node checks its own copies); the rest are read
            // now and sent with the digest of exactly what is sent.
            ReadOnlyMemory<byte>? shipped = null;
            FileFacts facts;
            if (Path.GetFullPath(path).StartsWith("/usr/", StringComparison.Ordinal))
            {
                facts = digests.Read(file.Path);
            }
            else
            {
                (var content, facts) = FileDigests.ReadWhole(path);
                if (content is not null)
                {
                    shipped = content;
                }
            }

            if (facts.Digest is not { } digest || facts.UsesTimeMacros)
            {
                return null;
            }

            files.Add(new KilnPreprocessFile(file.Path, digest, shipped));
        }

        var job = new KilnPreprocessJob
        {
            ManifestKey = manifestKey,
            Compiler = Path.GetFileName(command.Compiler),
            Arguments = command.Arguments,
            WorkingDirectory = cwd,
            Locale = _settings.Locale,
            Files = files,
        };
        if (job.Validate() is { } tooLarge)
        {
            Verbose($"kiln: {command.Source}: preprocessing here ({tooLarge})");
            return null;
        }

        return job;
    }

    /// <summary>
    /// Remote preprocessing on <paramref name="host"/>: the exit code when the node compiled it
    /// (outputs written, the local cache filled); null when it could not, and the compile goes the
    /// ordinary way (a failed compile too: the node may have lacked a header the manifest did not
    /// name, and the ordinary way reports a real error in the compiler's words).
    /// </summary>
    private async Task<int?> PreprocessRemotelyAsync(CompileCommand command, HostSpec host, LocalLookup local, KilnPreprocessJob job, CancellationToken cancellationToken)
    {
        if (_clients(host) is not IRemoteDirectClient client || !client.PreprocessesRemotely(host))
        {
            return null;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.RemoteTimeout);
        RemoteCompileReply reply;
        try
        {
            reply = await client.PreprocessAsync(host, job, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            reply = RemoteCompileReply.Fail($"no reply within {_settings.RemoteTimeout.TotalSeconds:0} s");
        }

        PhaseTrace.Mark("cc", "reply");
        if (reply is not { Status: RemoteStatus.Completed, Outcome: { ExitCode: 0 } outcome } || outcome.Object.IsEmpty
            || command.WritesDependencyFile != outcome.DependencyFile.HasValue)
        {
            Verbose($"kiln: {command.Source}: {host.Display} did not preprocess it ({reply.Message ?? $"exit {reply.Outcome?.ExitCode}"}); preprocessing here");
            return null;
        }

        var cwd = _settings.WorkingDirectory;
        if ((outcome.DependencyFile is { } dependency && WriteObject(Path.Combine(cwd, command.DependencyFile!), dependency.ToArray()) is not null)
            || WriteObject(Path.Combine(cwd, command.Output), outcome.Object) is not null)
        {
            return null;
        }

        if (local.Cache is { } cache && !local.ManifestKey.IsNone)
        {
            // Keyed by what the node compiled: the manifest key and every file's digest.
            var encoding = new CanonicalWriter("kiln-local-preprocessed-remotely-v1").Digest(Digest.FromBytes(System.Text.Encoding.ASCII.GetBytes(local.ManifestKey.Hex)))
                .Int(job.Files.Count);
            var files = new List<IncludedFile>(job.Files.Count);
            foreach (var file in job.Files)
            {
                encoding.String(file.Name).Digest(file.Digest);
                files.Add(new IncludedFile(file.Name, file.Digest));
            }

            var key = ActionKey.FromEncoding(encoding.ToArray());
            cache.PutResult(key, new CachedCompile(outcome.Object, outcome.Stdout, outcome.Stderr));
            cache.RecordDirect(local.ManifestKey, new ManifestEntry(files, key, outcome.DependencyFile?.ToArray()));
        }

        Verbose($"kiln: {command.Source} {(reply.FromCache ? "from the result cache of" : "preprocessed and compiled on")} {host.Display} (remote preprocessing)");
        _decisions.Remote(command.Source, host.Display, 0);
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
