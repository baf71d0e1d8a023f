using System.Globalization;
using Kiln.Cli.Explain;
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
/// One <c>kiln cc</c> compile: decides where it runs and makes the result exactly what a local compile
/// gives. A compile that cannot run remotely runs the real compiler here with the caller's arguments.
/// Otherwise it takes a slot on a host (localhost compiles here), preprocesses here (which also writes
/// any <c>-MD</c> dependency file), sends the preprocessed source, writes the object file and passes the
/// compiler's output and exit code through. A node that fails is backed off and the next host tried;
/// a busy node is skipped; when no node can do the job the compile runs here (or fails under
/// KILN_FALLBACK=0). A compile error is the compiler's answer, not the node's fault: no other host is
/// tried and nothing is backed off.
/// Which host: only nodes whose compilers match the compile's platform (<see cref="PlatformProbe"/>)
/// and that advertise the entry's <c>,KEY=VALUE</c> tags; among those, the better of two random ones
/// by advertised free slots (<see cref="HostSlots"/>). When every node answers BUSY the compile waits
/// and asks again, within the slot wait. Preprocessing and local-only compiles (links) take local
/// slots (<c>--localslots_cpp</c>, <c>--localslots</c>). A remote compile still unanswered after
/// KILN_RACE_AFTER is raced here when a local slot is idle (<see cref="LocalRace"/>).
/// </summary>
internal sealed partial class CompileDriver
{
    private readonly CcSettings _settings;
    private readonly Func<HostSpec, IRemoteCompileClient> _clients;
    private readonly CompilerConsole _console;
    private readonly HostBackoff _backoff;
    private readonly DecisionLog _decisions;
    private readonly INodeHandshake? _handshake;

    /// <summary>
    /// Remote preprocessing's job for this compile, when remote direct mode found this compile's
    /// manifest but its files had changed: the first capable host is asked to preprocess it.
    /// </summary>
    private KilnPreprocessJob? _remoteSources;

    /// <summary>True when remote direct mode's LOOKUP was skipped as a predicted miss (RemoteDirectHistory).</summary>
    private bool _lookupSkipped;

    private RemoteDirectHistory? _history;

    /// <summary>Facts of nodes as this compile first read them (their cache= bit does not change within a compile).</summary>
    private readonly Dictionary<HostSpec, NodeFacts?> _factsRead = [];

    /// <summary>This user's remote direct history, read once per compile.</summary>
    private RemoteDirectHistory History => _history ??= RemoteDirectHistory.Load(_settings.StateDirectory);

    /// <summary>The facts of <paramref name="host"/>, read once per compile.</summary>
    private NodeFacts? FactsOf(HostSpec host)
    {
        if (!_factsRead.TryGetValue(host, out var facts))
        {
            facts = NodeFacts.Read(_settings.StateDirectory, host, _settings.FactsLifetime);
            _factsRead[host] = facts;
        }

        return facts;
    }

    /// <summary>
    /// Creates a driver; <paramref name="clients"/> gives the protocol client for a host,
    /// <paramref name="handshake"/> (optional) learns Kiln nodes' compilers and free slots.
    /// </summary>
    public CompileDriver(CcSettings settings, Func<HostSpec, IRemoteCompileClient> clients, CompilerConsole console, INodeHandshake? handshake = null)
    {
        _settings = settings;
        _clients = clients;
        _console = console;
        _handshake = handshake;
        _backoff = new HostBackoff(settings.StateDirectory, settings.BackoffPeriod);
        _decisions = new DecisionLog(settings.StateDirectory);
    }

    /// <summary>
    /// Runs one compile and returns the exit code to exit with. <paramref name="compiler"/> is the
    /// compiler as the caller named it (gcc, g++, a path), <paramref name="compilerPath"/> the real
    /// compiler it resolves to here.
    /// </summary>
    public async Task<int> RunAsync(string compiler, string compilerPath, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        // Under KILN_BASEDIR the compiler runs with project paths made relative, locally and remotely alike.
        arguments = BaseDirectoryRewriter.Rewrite(arguments, _settings.BaseDirectory, _settings.WorkingDirectory);
        var command = CompileCommand.Parse(compiler, arguments);
        var list = HostListParser.Parse(_settings.HostsText);
        var slots = new HostSlots(_settings.StateDirectory);
        if (!command.IsDistributable)
        {
            Verbose($"kiln: {Describe(command)} ran locally: {command.LocalReason}");
            _decisions.NotDistributable(Describe(command), command.LocalReason ?? "");
            using var linkSlot = await slots.AcquireLocalAsync("link", list.LocalSlots, Deadline(), _settings.SlotPoll, cancellationToken).ConfigureAwait(false);
            return await LocalCompiler.RunAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
        }

        // Direct mode answers first, without the preprocessor: the local cache's manifests, then the
        // node's (remote direct mode); then the local cache by the preprocessed input's ActionKey.
        PhaseTrace.Mark("cc", "parsed");
        var local = LookUpDirectly(command, compilerPath);
        if (local.ExitCode is { } direct)
        {
            return direct;
        }

        var (hosts, reason) = await UsableHostsAsync(list, command, compilerPath, cancellationToken).ConfigureAwait(false);
        PhaseTrace.Mark("cc", "hosts");
        if (await LookUpRemotelyAsync(command, hosts, local, cancellationToken).ConfigureAwait(false) is { } remote)
        {
            return remote;
        }

        // The local cache by ActionKey needs the preprocessor here; when a node is about to preprocess
        // the compile itself (remote preprocessing), that would undo the point, so it is skipped. With a
        // node to send to, it waits for the host's choice: the JOB goes ahead of the preprocessor.
        var lookUpPreprocessed = _remoteSources is null && local.Cache is not null;
        if (lookUpPreprocessed && !hosts.Any(h => h.Kind != HostKind.Local))
        {
            lookUpPreprocessed = false;
            local = await LookUpPreprocessedAsync(command, compilerPath, local, cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "local-cache");
            if (local.ExitCode is { } answered)
            {
                return answered;
            }
        }

        var random = new Random(_settings.Seed);
        var deadline = Deadline();
        var busy = new List<HostSpec>();
        var preprocessed = local.Preprocessed;
        var key = local.Key;
        while (hosts.Count > 0)
        {
            using var lease = await slots.AcquireAsync(hosts, Score, random, deadline, _settings.SlotPoll, cancellationToken).ConfigureAwait(false);
            if (lease is null)
            {
                reason = $"every slot of {Plural(hosts.Count, "host")} stayed taken for {_settings.SlotWait.TotalSeconds:0.#} s";
                break;
            }

            PhaseTrace.Mark("cc", "slot");
            var host = lease.Host;
            if (host.Kind != HostKind.Local && _backoff.IsBackedOff(host))
            {
                // Another compile of this build saw it fail while this one waited for the slot.
                hosts.Remove(host);
                reason = $"{host.Display} failed in the last {_backoff.Period.TotalSeconds:0} s and is backed off";
                continue;
            }

            if (host.Kind == HostKind.Local)
            {
                if (lookUpPreprocessed)
                {
                    lookUpPreprocessed = false;
                    local = await LookUpPreprocessedAsync(command, compilerPath, local, cancellationToken).ConfigureAwait(false);
                    if (local.ExitCode is { } answered)
                    {
                        return answered;
                    }
                }

                Verbose($"kiln: {command.Source} compiled on localhost (slot {lease.Slot})");
                _decisions.LocalSlot(command.Source, lease.Slot);
                return await CompileHereAsync(command, compilerPath, arguments, local, cancellationToken).ConfigureAwait(false);
            }

            if (preprocessed is null && _remoteSources is { } sources && _clients(host) is IRemoteDirectClient candidate && candidate.PreprocessesRemotely(host))
            {
                _remoteSources = null;
                var done = await PreprocessRemotelyAsync(command, host, local, sources, cancellationToken).ConfigureAwait(false);
                lease.Dispose();
                RememberWelcome(host);
                if (done is { } exitCode)
                {
                    return exitCode;
                }

                // The ordinary way, on whichever host is free next.
                continue;
            }

            var sentAhead = false;
            if (preprocessed is null)
            {
                // The connection is made while the preprocessor runs, as distcc's client does; to a node
                // that takes it, the JOB goes too, and the node starts the compiler meanwhile.
                _clients(host).Prepare(host);
                using var cppSlot = await slots.AcquireLocalAsync("cpp", list.LocalSlotsCpp, Deadline(), _settings.SlotPoll, cancellationToken).ConfigureAwait(false);

                // After the wait for a preprocessor slot: a job ahead holds a slot on the node.
                sentAhead = SendAhead(command, host);
                if (lookUpPreprocessed)
                {
                    lookUpPreprocessed = false;
                    local = await LookUpPreprocessedAsync(command, compilerPath, local, cancellationToken).ConfigureAwait(false);
                    PhaseTrace.Mark("cc", "local-cache");
                    if (local.ExitCode is { } answered)
                    {
                        // The local cache had it, or the preprocessor failed (and said so).
                        AbandonAhead(host, sentAhead);
                        return answered;
                    }

                    key = local.Key;
                }

                preprocessed = local.Preprocessed ?? await LocalCompiler.CaptureAsync(compilerPath, command.PreprocessArguments(), _settings.WorkingDirectory, _console,
                    cancellationToken).ConfigureAwait(false);
            }

            var cpp = preprocessed.Value;
            PhaseTrace.Mark("cc", "preprocessed");
            if (cpp.ExitCode != 0)
            {
                AbandonAhead(host, sentAhead);
                // The full compile would stop at the same point with the same words.
                Verbose($"kiln: {command.Source} failed to preprocess here (exit {cpp.ExitCode})");
                _decisions.PreprocessFailed(command.Source, cpp.ExitCode);
                Write(_console.Stderr, cpp.Stderr);
                return cpp.ExitCode;
            }

            key ??= KeyOf(command, local.Identity ?? Identity(compilerPath), cpp.Stdout);

            // The manifest entry the answer will be recorded under (the included files and their digests)
            // depends on nothing the node sends, so it is worked out while the node compiles, not after:
            // wanted by the local cache, or by a node that keeps manifests (its WELCOME, not come yet on a
            // new connection, decides; its facts guess). The Kiln client runs it on this thread once the
            // job is sent (a pool thread for it cost a miss 0.4 ms, KILN_TRACE); otherwise it runs after.
            var manifestInput = local with { Preprocessed = cpp, Key = key };
            var manifestAhead = WantsManifest(local, host, beforeWelcome: true)
                ? new Lazy<ManifestEntry?>(() => ManifestOf(command, manifestInput), LazyThreadSafetyMode.ExecutionAndPublication)
                : null;
            var request = Request(command, cpp.Stdout, key.Value) with { WhileCompiling = manifestAhead is null ? null : () => _ = manifestAhead.Value };
            var (reply, raced) = await SendOrRaceAsync(host, request, compilerPath, slots, LocalLimit(list), cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "reply");

            // The node is done with the job: free its slot before anything runs here.
            lease.Dispose();
            PhaseTrace.Mark("cc", "slot-freed");
            RememberWelcome(host);
            PhaseTrace.Mark("cc", "facts");
            if (reply.Status == RemoteStatus.Completed && (reply.FromCache || _lookupSkipped))
            {
                // A result the node had is a build it knows: LOOKUPs are worth asking again.
                History.Record(known: reply.FromCache);
            }

            if (reply.Status == RemoteStatus.Completed && reply.Outcome is { } outcome && (outcome.ExitCode != 0 || !outcome.Object.IsEmpty))
            {
                var where = raced ? $"localhost (raced against {host.Display}, which had not answered after {_settings.RaceAfter.TotalSeconds:0.#} s)" : $"{host.Display} (slot {lease.Slot})";
                return await DeliverAsync(command, compilerPath, host, where, cpp, outcome, local with { Preprocessed = cpp, Key = key }, reply.FromCache && !raced,
                    raced ? null : host, manifestAhead, cancellationToken).ConfigureAwait(false);
            }

            hosts.Remove(host);
            if (reply.Status == RemoteStatus.Busy)
            {
                reason = $"{host.Display} is busy ({reply.Message})";
                busy.Add(host);
                if (hosts.Count == 0 && Environment.TickCount64 < deadline)
                {
                    // Every node said BUSY: their slots free within a compile's time, so wait a little
                    // (randomly, so waiting compiles do not return in step) and ask them again.
                    await Task.Delay(random.Next(50, 250), cancellationToken).ConfigureAwait(false);
                    hosts.AddRange(busy);
                    busy.Clear();
                }

                continue;
            }

            if (reply.Status == RemoteStatus.Refused)
            {
                // The node is healthy and would refuse this job again: do not ask the others either.
                reason = $"{host.Display} refused it ({reply.Message})";
                break;
            }

            var failure = reply.Status == RemoteStatus.Completed ? "reported success without an object file" : reply.Message ?? "no reason given";
            reason = $"{host.Display} failed ({failure})";
            ReportFailure(host, failure);
        }

        if (lookUpPreprocessed && _settings.Fallback)
        {
            // Compiled here after all: the local cache may have it, and keeps what this compile makes.
            local = await LookUpPreprocessedAsync(command, compilerPath, local, cancellationToken).ConfigureAwait(false);
            if (local.ExitCode is { } answered)
            {
                return answered;
            }
        }

        return await NoNodeAsync(command, compilerPath, arguments, reason, local, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the compile's JOB to <paramref name="host"/> ahead of its input when the node takes that (its
    /// facts say <c>ahead=1</c>) and KILN_JOB_AHEAD allows; true when sent.
    /// </summary>
    private bool SendAhead(CompileCommand command, HostSpec host)
    {
        if (!_settings.JobAhead || FactsOf(host)?.TakesJobsAhead != true)
        {
            return false;
        }

        return _clients(host).SendAhead(host, Request(command, ReadOnlyMemory<byte>.Empty, new CompileKey(ActionKey.None, Digest.Empty)));
    }

    /// <summary>Takes back a JOB sent ahead when the compile will not send its input after all.</summary>
    private void AbandonAhead(HostSpec host, bool sentAhead)
    {
        if (sentAhead)
        {
            _clients(host).Abandon(host);
        }
    }

    private long Deadline() => Environment.TickCount64 + (long)_settings.SlotWait.TotalMilliseconds;

    /// <summary>The localhost slots: the list's localhost entry, else distcc's default of 2.</summary>
    private static int LocalLimit(HostList list) =>
        list.Hosts.FirstOrDefault(h => h.Kind == HostKind.Local)?.Limit ?? HostListParser.DefaultLocalLimit;

    /// <summary>
    /// How much a host is worth choosing: the share of its slots its node advertised free last (at most
    /// half a minute ago), else one half. Shares, not counts: by counts a 2-slot node with both free beats
    /// a 1-slot node with its one free every time, and the small node starves (measured: 2.6 times fewer
    /// jobs per slot in the shared-cluster test; (slots - free + 1) / slots starved it too, 2.76 times,
    /// and shares fed it 1.6 times more: docs/scheduling.md). Localhost scores as a wholly free node: local slots
    /// are free work, and this user's locks already cap them.
    /// </summary>
    private double Score(HostSpec host)
    {
        if (host.Kind == HostKind.Local)
        {
            return 1.0;
        }

        return NodeFacts.Read(_settings.StateDirectory, host, TimeSpan.FromSeconds(30))?.FreeShare ?? 0.5;
    }

    /// <summary>Keeps what the node's WELCOME on this compile's connection said (its free slots above all) for the next compiles.</summary>
    private void RememberWelcome(HostSpec host)
    {
        if (host.Protocol == HostProtocol.Kiln && _handshake?.LastWelcome(host) is { } attributes)
        {
            NodeFacts.Write(_settings.StateDirectory, host, attributes);
        }
    }

    /// <summary>
    /// Sends the job; when the node has not answered after <see cref="CcSettings.RaceAfter"/> and a
    /// localhost slot is idle, compiles it here too, and the first usable result wins (the other is
    /// cancelled: the connection closes, which stops the node's compile). Raced is true when the local
    /// result is the one returned.
    /// </summary>
    private async Task<(RemoteCompileReply Reply, bool Raced)> SendOrRaceAsync(HostSpec host, RemoteCompileRequest request, string compilerPath, HostSlots slots,
        int localLimit, CancellationToken cancellationToken)
    {
        if (_settings.RaceAfter <= TimeSpan.Zero || !_settings.Fallback)
        {
            return (await SendAsync(host, request, cancellationToken).ConfigureAwait(false), false);
        }

        using var stopRemote = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var remote = SendAsync(host, request, stopRemote.Token);

        // The Kiln client waits for a plaintext reply on this thread for up to RaceAfter
        // (KilnClientOptions.SynchronousReplyWait): what it hands back unfinished has used that time.
        var left = _settings.RaceAfter - System.Diagnostics.Stopwatch.GetElapsedTime(started);
        if (remote.IsCompleted
            || (left > TimeSpan.Zero && await Task.WhenAny(remote, Task.Delay(left, cancellationToken)).ConfigureAwait(false) == remote))
        {
            return (await remote.ConfigureAwait(false), false);
        }

        using var localSlot = slots.TryTakeLocalhost(localLimit);
        if (localSlot is null)
        {
            return (await remote.ConfigureAwait(false), false);
        }

        Verbose($"kiln: {request.SourceName} has waited {_settings.RaceAfter.TotalSeconds:0.#} s for {host.Display} and a local slot is idle; compiling it here too");
        using var stopLocal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var local = LocalRace.CompileAsync(compilerPath, request.Arguments, request.Language, request.Preprocessed, _settings.StateDirectory, stopLocal.Token);
        var first = await Task.WhenAny(remote, local).ConfigureAwait(false);
        if (first == local && Usable(local))
        {
            await stopRemote.CancelAsync().ConfigureAwait(false);
            await Quietly(remote).ConfigureAwait(false);
            return (new RemoteCompileReply(RemoteStatus.Completed, local.Result, null), true);
        }

        var reply = await remote.ConfigureAwait(false);
        if (reply.Status == RemoteStatus.Completed || !_settings.Fallback)
        {
            await stopLocal.CancelAsync().ConfigureAwait(false);
            await Quietly(local).ConfigureAwait(false);
            return (reply, false);
        }

        // The node failed while the race ran: the local compile is the answer (the failure still counts).
        await Quietly(local).ConfigureAwait(false);
        if (Usable(local))
        {
            if (reply.Status == RemoteStatus.Failed)
            {
                ReportFailure(host, reply.Message ?? "no reason given");
            }

            return (new RemoteCompileReply(RemoteStatus.Completed, local.Result, null), true);
        }

        return (reply, false);

        static bool Usable(Task<CompileOutcome> local) =>
            local.IsCompletedSuccessfully && (local.Result.ExitCode != 0 || !local.Result.Object.IsEmpty);

        static async Task Quietly(Task task)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>
    /// The compile's ActionKey (see docs/cache.md): this machine's identity of the compiler, the
    /// arguments a node runs, the preprocessed input's digest and the messages locale. A node that has
    /// the key's result answers at once; one that has not compiles and keys the result itself.
    /// </summary>
    private CompileKey KeyOf(CompileCommand command, CompilerIdentity? identity, ReadOnlyMemory<byte> preprocessed)
    {
        var input = Digest.FromBytes(preprocessed.Span);
        var key = identity is null
            ? ActionKey.None
            : new CompileAction(identity, command.RemoteArguments(), command.Language.Preprocessed(), input, CompileAction.MessagesLocaleOf(_settings.Locale)).Key;
        return new CompileKey(key, input);
    }

    private RemoteCompileRequest Request(CompileCommand command, ReadOnlyMemory<byte> preprocessed, CompileKey key) => new()
    {
        ActionKey = key.Key,
        PreprocessedDigest = key.Input,
        Compiler = Path.GetFileName(command.Compiler),
        Arguments = command.RemoteArguments(),
        Language = command.Language.Preprocessed(),
        Preprocessed = preprocessed,
        SourceName = command.Source,
        OutputName = command.Output,
        WorkingDirectory = _settings.WorkingDirectory,
        Locale = _settings.Locale,
    };

    private async Task<RemoteCompileReply> SendAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            return await WithRemoteTimeout(timeout, t => _clients(host).CompileAsync(host, request, t)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return RemoteCompileReply.Fail($"no reply within {_settings.RemoteTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Clients return network failures as values; anything thrown is a client bug, and a bug in
            // one client must cost this compile a host, never the build.
            return RemoteCompileReply.Fail($"client error: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Starts a remote call under <paramref name="timeout"/>, which is cancelled after the remote timeout;
    /// its timer starts only when the call has not finished by the time it returns (a plaintext Kiln
    /// reply is read on this thread): in this short-lived process a timer is a thread of its own.
    /// </summary>
    private Task<T> WithRemoteTimeout<T>(CancellationTokenSource timeout, Func<CancellationToken, Task<T>> call)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var task = call(timeout.Token);
        if (!task.IsCompleted)
        {
            var left = _settings.RemoteTimeout - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            timeout.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        return task;
    }

    private async Task<int> DeliverAsync(CompileCommand command, string compilerPath, HostSpec host, string where, CompilerRun cpp,
        CompileOutcome outcome, LocalLookup local, bool fromCache, HostSpec? answeredBy, Lazy<ManifestEntry?>? manifestAhead, CancellationToken cancellationToken)
    {
        if (outcome.ExitCode != 0 && _settings.Fallback)
        {
            // The node ran the compiler and it failed: that is the compiler's answer, so no other host is
            // tried and nothing is backed off. gcc prints each diagnostic's source line from the file the
            // diagnostic names, which exists here but not on the node, so the local run reports the
            // failure in exactly the words a local compile uses (and settles any node/local difference).
            Verbose($"kiln: {command.Source} failed on {where} (exit {outcome.ExitCode}); compiling it here to report its diagnostics exactly");
            _decisions.RemoteFailedRerunLocal(command.Source, host.Display, outcome.ExitCode);
            return await LocalCompiler.RunAsync(compilerPath, command.Arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
        }

        if (outcome.ExitCode == 0)
        {
            var error = WriteObject(Path.Combine(_settings.WorkingDirectory, command.Output), outcome.Object);
            if (error is not null)
            {
                if (_settings.Fallback)
                {
                    // A local compile meets the same obstacle and says so in the compiler's own words.
                    Verbose($"kiln: {command.Source}: cannot write {command.Output} ({error}); compiling it here");
                    return await LocalCompiler.RunAsync(compilerPath, command.Arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
                }

                _console.Say($"kiln: {command.Source}: cannot write {command.Output}: {error}");
                return 1;
            }
        }

        PhaseTrace.Mark("cc", "written");
        if (outcome.ExitCode == 0)
        {
            // A node's answer (compiled or from its cache) fills the local cache, and the node learns
            // which files led to it, so the next such compile anywhere skips the preprocessor.
            var manifest = WantsManifest(local, answeredBy)
                ? manifestAhead is not null ? manifestAhead.Value : ManifestOf(command, local)
                : null;
            StoreLocally(command, local, outcome.Object, outcome.Stdout, outcome.Stderr, manifest);
            if (answeredBy is not null)
            {
                await RecordRemotelyAsync(answeredBy, local, manifest, cancellationToken).ConfigureAwait(false);
            }
        }

        PhaseTrace.Mark("cc", "stored-locally");
        if (fromCache)
        {
            // HELLO names no trust policy, so the node's default one (kiln serve --trust-k) let it serve the hit.
            Verbose($"kiln: {command.Source} from the result cache of {where}");
            _decisions.Hit(command.Source, host.Display, "the node's result cache, under the node's default trust policy");
        }
        else
        {
            Verbose($"kiln: {command.Source} compiled on {where}{(outcome.ExitCode == 0 ? "" : $", exit {outcome.ExitCode}")}");
            _decisions.Remote(command.Source, host.Display, outcome.ExitCode);
        }
        Write(_console.Stdout, outcome.Stdout);
        Write(_console.Stderr, cpp.Stderr);
        Write(_console.Stderr, outcome.Stderr);
        return outcome.ExitCode;
    }

    /// <summary>
    /// True when a compile <paramref name="host"/> answered (null: none did) gets a manifest entry: for the
    /// local cache, or for the node's remote direct mode when the node keeps manifests, as its WELCOME
    /// said; <paramref name="beforeWelcome"/>, before the job's WELCOME came, its facts stand in for it.
    /// </summary>
    private bool WantsManifest(LocalLookup local, HostSpec? host, bool beforeWelcome = false) =>
        local.Cache is not null
        || (host is not null && _settings.RemoteDirect && _clients(host) is IRemoteDirectClient direct
            && (beforeWelcome ? FactsOf(host)?.KeepsManifests ?? true : direct.KeepsManifests(host)));

    /// <summary>Writes the object file beside its final name and renames it into place, so no reader sees half of it.</summary>
    private static string? WriteObject(string path, ReadOnlyMemory<byte> bytes)
    {
        var temporary = path + ".kiln-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        try
        {
            // A handle and one positioned write (no FileStream), on a name no other process uses.
            using (var file = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
            {
                RandomAccess.Write(file, bytes.Span, 0);
            }

            // The old object goes first, as ccache removes it before writing: ext4 (auto_da_alloc) starts
            // writing the new file's data to disk at once when a rename replaces an existing file, so a
            // hit in a rebuild would submit a disk write it does not need. Renamed onto a free name,
            // the object is written back later like any other file. Either way no reader ever sees a
            // partly written object.
            File.Delete(path);
            File.Move(temporary, path, overwrite: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }

            return e.Message;
        }
    }

    private async Task<int> NoNodeAsync(CompileCommand command, string compilerPath, IReadOnlyList<string> arguments, string reason,
        LocalLookup local, CancellationToken cancellationToken)
    {
        if (!_settings.Fallback)
        {
            _console.Say($"kiln: {command.Source} not compiled: no node could compile it ({reason}), and KILN_FALLBACK=0 forbids compiling it here");
            _decisions.NotCompiled(command.Source, reason);
            return 1;
        }

        Verbose($"kiln: {command.Source} compiled locally: {reason}");
        _decisions.Fallback(command.Source, reason);
        return await CompileHereAsync(command, compilerPath, arguments, local, cancellationToken).ConfigureAwait(false);
    }

    private void ReportFailure(HostSpec host, string failure)
    {
        if (!_backoff.RecordFailure(host, failure))
        {
            return;
        }

        var period = _backoff.Period;
        _console.Say(period > TimeSpan.Zero
            ? $"kiln: node {host.Display} failed ({failure}); compiling elsewhere; not using it for {period.TotalSeconds:0} s"
            : $"kiln: node {host.Display} failed ({failure}); compiling elsewhere");
    }

    /// <summary>
    /// The hosts this compile may use: the parsed list without words that did not parse, hosts marked
    /// down and hosts in backoff, plus the nodes <c>+zeroconf</c> and KILN_SEEDS find; then only those
    /// whose compilers match the compile's platform and that carry the entry's tags. The reason says
    /// why the list is empty when it is.
    /// </summary>
    private async Task<(List<HostSpec> Hosts, string Reason)> UsableHostsAsync(HostList list, CompileCommand command, string compilerPath,
        CancellationToken cancellationToken)
    {
        List<string>? problems = list.Errors.Count > 0 ? [.. list.Errors] : null;
        var hosts = new List<HostSpec>(list.Hosts.Count);
        var down = 0;
        var backedOff = 0;
        var zeroconfTags = new Dictionary<string, string>(StringComparer.Ordinal);
        var zeroconf = false;
        foreach (var host in list.Hosts)
        {
            if (host.Kind == HostKind.Zeroconf)
            {
                zeroconf = true;
                foreach (var (key, value) in host.Tags)
                {
                    zeroconfTags[key] = value;
                }
            }
            else if (host.Down)
            {
                down++;
            }
            else if (host.Kind != HostKind.Local && _backoff.IsBackedOff(host))
            {
                backedOff++;
            }
            else
            {
                hosts.Add(AsListed(host));
            }
        }

        if (problems is not null)
        {
            ReportHostListProblems(problems);
        }

        var discovered = 0;
        if (zeroconf || _settings.Seeds.Count > 0)
        {
            foreach (var found in await DiscoveredHosts.FindAsync(_settings, zeroconf, cancellationToken).ConfigureAwait(false))
            {
                discovered++;
                var host = found.Host with { Tags = zeroconfTags };
                if (_backoff.IsBackedOff(host))
                {
                    backedOff++;
                }
                else if (!hosts.Any(h => h.Kind == HostKind.Tcp && h.Host == host.Host && h.EffectivePort == host.EffectivePort))
                {
                    hosts.Add(host);
                }
            }
        }

        var unmatched = await MatchingAsync(hosts, command, compilerPath, cancellationToken).ConfigureAwait(false);
        var reason = hosts.Count > 0 ? "" : unmatched is not null ? unmatched
            : backedOff > 0 ? $"{Plural(backedOff, "host")} failed in the last {_backoff.Period.TotalSeconds:0} s and {(backedOff == 1 ? "is" : "are")} backed off"
            : down > 0 ? $"every host in {_settings.HostsSource} is marked down"
            : zeroconf && discovered == 0 ? "+zeroconf found no node" : $"{_settings.HostsSource} names no usable host";
        return (hosts, reason);
    }

    /// <summary>
    /// Removes the remote hosts that lack the compile's platform or the entry's tags. A node's facts come
    /// from KILN_DIR (a WELCOME, TXT record or seed answer within <see cref="CcSettings.FactsLifetime"/>),
    /// else from a handshake now. A host whose facts stay unknown keeps jobs only when it needs no tag
    /// (a stock distccd cannot say; distcc sends it everything too). Returns why the last host went.
    /// </summary>
    private async Task<string?> MatchingAsync(List<HostSpec> hosts, CompileCommand command, string compilerPath, CancellationToken cancellationToken)
    {
        if (!hosts.Any(h => h.Kind != HostKind.Local))
        {
            return null;
        }

        var platform = PlatformProbe.Probe(compilerPath, command.Arguments, _settings.StateDirectory);
        PhaseTrace.Mark("cc", "platform");
        var facts = new Dictionary<HostSpec, NodeFacts?>();
        var unknown = new List<HostSpec>();
        foreach (var host in hosts.Where(h => h.Kind != HostKind.Local))
        {
            facts[host] = NodeFacts.Read(_settings.StateDirectory, host, _settings.FactsLifetime);
            if (facts[host] is null && _handshake is not null && host.Kind == HostKind.Tcp && host.Protocol == HostProtocol.Kiln)
            {
                unknown.Add(host);
            }
        }

        // Handshakes run side by side: a first compile meets every node at once, not one after another
        // (on the Kiln client's synchronous way the connects are begun together, then finished in turn).
        foreach (var host in unknown)
        {
            _clients(host).Prepare(host);
        }

        var answers = await Task.WhenAll(unknown.Select(h => _handshake!.HandshakeAsync(h, cancellationToken))).ConfigureAwait(false);
        for (var i = 0; i < unknown.Count; i++)
        {
            if (answers[i] is { } attributes)
            {
                NodeFacts.Write(_settings.StateDirectory, unknown[i], attributes);
                facts[unknown[i]] = NodeFacts.Read(_settings.StateDirectory, unknown[i], _settings.FactsLifetime);
            }
        }

        string? why = null;
        foreach (var (host, known) in facts)
        {
            if (host.Tags.Count > 0 && known?.HasTags(host.Tags) != true)
            {
                why = $"{host.Display} does not advertise {string.Join(",", host.Tags.Select(t => t.Key + "=" + t.Value))}";
                hosts.Remove(host);
            }
            else if (platform is not null && known?.Compilers() is { } compilers && !compilers.Contains(platform))
            {
                why = $"no node has the compiler this compile needs ({platform}; {host.Display} has {(compilers.Count == 0 ? "none" : string.Join(",", compilers))})";
                Verbose($"kiln: {command.Source}: {host.Display} skipped: it has no {platform} compiler");
                hosts.Remove(host);
            }
        }

        return why;
    }

    /// <summary>
    /// A host as its list means it: a DISTCC_HOSTS list was written for distccd, so its hosts speak the
    /// distcc protocol (port 3632 unless given) unless an entry says <c>,kiln</c>.
    /// </summary>
    private HostSpec AsListed(HostSpec host) =>
        _settings.HostsSource == "DISTCC_HOSTS" && host.Kind != HostKind.Local && host.Protocol == HostProtocol.Kiln
            && !host.Text.Contains(",kiln", StringComparison.Ordinal)
            ? host with { Protocol = HostProtocol.Distcc }
            : host;

    /// <summary>Says what is wrong with the host list, once per notice period across the build.</summary>
    private void ReportHostListProblems(List<string> problems)
    {
        var marker = Path.Combine(_settings.StateDirectory, "notices", "hosts-" + Fnv1a(_settings.HostsText).ToString("x16", CultureInfo.InvariantCulture));
        if (!PeriodMarker.TryClaim(marker, _settings.NoticePeriod, _settings.HostsText + "\n"))
        {
            return;
        }

        foreach (var problem in problems)
        {
            _console.Say($"kiln: {_settings.HostsSource}: {problem}; ignoring that word");
        }
    }

    private void Verbose(string line)
    {
        if (_settings.Verbose)
        {
            _console.Say(line);
        }
    }

    private static void Write(Stream stream, ReadOnlyMemory<byte> bytes)
    {
        if (!bytes.IsEmpty)
        {
            stream.Write(bytes.Span);
            stream.Flush();
        }
    }

    private static string Describe(CompileCommand command) =>
        command.SourceIndex >= 0 ? command.Source : Path.GetFileName(command.Compiler);

    private static string Plural(int count, string noun) =>
        count.ToString(CultureInfo.InvariantCulture) + " " + noun + (count == 1 ? "" : "s");

    /// <summary>A stable 64-bit FNV-1a hash (string.GetHashCode differs per process).</summary>
    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }
}
