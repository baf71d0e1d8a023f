using System.Globalization;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hosts;
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
/// </summary>
internal sealed class CompileDriver
{
    private readonly CcSettings _settings;
    private readonly Func<HostSpec, IRemoteCompileClient> _clients;
    private readonly CompilerConsole _console;
    private readonly HostBackoff _backoff;

    /// <summary>Creates a driver; <paramref name="clients"/> gives the protocol client for a host.</summary>
    public CompileDriver(CcSettings settings, Func<HostSpec, IRemoteCompileClient> clients, CompilerConsole console)
    {
        _settings = settings;
        _clients = clients;
        _console = console;
        _backoff = new HostBackoff(settings.StateDirectory, settings.BackoffPeriod);
    }

    /// <summary>
    /// Runs one compile and returns the exit code to exit with. <paramref name="compiler"/> is the
    /// compiler as the caller named it (gcc, g++, a path), <paramref name="compilerPath"/> the real
    /// compiler it resolves to here.
    /// </summary>
    public async Task<int> RunAsync(string compiler, string compilerPath, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var command = CompileCommand.Parse(compiler, arguments);
        if (!command.IsDistributable)
        {
            Verbose($"kiln: {Describe(command)} ran locally: {command.LocalReason}");
            return await LocalCompiler.RunAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
        }

        var hosts = UsableHosts(out var reason);
        var slots = hosts.Count > 0 ? new HostSlots(_settings.StateDirectory) : null;
        CompilerRun? preprocessed = null;
        while (hosts.Count > 0)
        {
            using var lease = await slots!.AcquireAsync(hosts, _settings.SlotWait, _settings.SlotPoll, cancellationToken).ConfigureAwait(false);
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
                Verbose($"kiln: {command.Source} compiled on localhost (slot {lease.Slot})");
                return await LocalCompiler.RunAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
            }

            preprocessed ??= await LocalCompiler.CaptureAsync(compilerPath, command.PreprocessArguments(), _settings.WorkingDirectory, _console, cancellationToken)
                .ConfigureAwait(false);
            var cpp = preprocessed.Value;
            PhaseTrace.Mark("cc", "preprocessed");
            if (cpp.ExitCode != 0)
            {
                // The full compile would stop at the same point with the same words.
                Verbose($"kiln: {command.Source} failed to preprocess here (exit {cpp.ExitCode})");
                Write(_console.Stderr, cpp.Stderr);
                return cpp.ExitCode;
            }

            var reply = await SendAsync(host, Request(command, cpp.Stdout), cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "reply");

            // The node is done with the job: free its slot before anything runs here.
            lease.Dispose();
            if (reply.Status == RemoteStatus.Completed && reply.Outcome is { } outcome && (outcome.ExitCode != 0 || !outcome.Object.IsEmpty))
            {
                return await DeliverAsync(command, compilerPath, host, lease.Slot, cpp, outcome, cancellationToken).ConfigureAwait(false);
            }

            hosts.Remove(host);
            if (reply.Status == RemoteStatus.Busy)
            {
                reason = $"{host.Display} is busy ({reply.Message})";
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

        return await NoNodeAsync(command, compilerPath, arguments, reason, cancellationToken).ConfigureAwait(false);
    }

    private RemoteCompileRequest Request(CompileCommand command, ReadOnlyMemory<byte> preprocessed) => new()
    {
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
        timeout.CancelAfter(_settings.RemoteTimeout);
        try
        {
            return await _clients(host).CompileAsync(host, request, timeout.Token).ConfigureAwait(false);
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

    private async Task<int> DeliverAsync(CompileCommand command, string compilerPath, HostSpec host, int slot, CompilerRun cpp,
        CompileOutcome outcome, CancellationToken cancellationToken)
    {
        if (outcome.ExitCode != 0 && _settings.Fallback)
        {
            // The node ran the compiler and it failed: that is the compiler's answer, so no other host is
            // tried and nothing is backed off. gcc prints each diagnostic's source line from the file the
            // diagnostic names, which exists here but not on the node, so the local run reports the
            // failure in exactly the words a local compile uses (and settles any node/local difference).
            Verbose($"kiln: {command.Source} failed on {host.Display} (exit {outcome.ExitCode}); compiling it here to report its diagnostics exactly");
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
        Verbose($"kiln: {command.Source} compiled on {host.Display} (slot {slot}){(outcome.ExitCode == 0 ? "" : $", exit {outcome.ExitCode}")}");
        Write(_console.Stdout, outcome.Stdout);
        Write(_console.Stderr, cpp.Stderr);
        Write(_console.Stderr, outcome.Stderr);
        return outcome.ExitCode;
    }

    /// <summary>Writes the object file beside its final name and renames it into place, so no reader sees half of it.</summary>
    private static string? WriteObject(string path, ReadOnlyMemory<byte> bytes)
    {
        var temporary = path + ".kiln-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1))
            {
                file.Write(bytes.Span);
            }

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
        CancellationToken cancellationToken)
    {
        if (!_settings.Fallback)
        {
            _console.Say($"kiln: {command.Source} not compiled: no node could compile it ({reason}), and KILN_FALLBACK=0 forbids compiling it here");
            return 1;
        }

        Verbose($"kiln: {command.Source} compiled locally: {reason}");
        return await LocalCompiler.RunAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
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
    /// The hosts this compile may use, in this process's random order: the parsed list without words
    /// that did not parse, hosts marked down and hosts in backoff. <paramref name="reason"/> says why
    /// the list is empty when it is.
    /// </summary>
    private List<HostSpec> UsableHosts(out string reason)
    {
        var list = HostListParser.Parse(_settings.HostsText);
        List<string>? problems = list.Errors.Count > 0 ? [.. list.Errors] : null;
        var hosts = new List<HostSpec>(list.Hosts.Count);
        var down = 0;
        var backedOff = 0;
        foreach (var host in list.Hosts)
        {
            if (host.Kind == HostKind.Zeroconf)
            {
                (problems ??= []).Add($"'{host.Text}': zeroconf discovery is not supported by kiln cc yet");
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

        // Fisher-Yates with this process's seed: concurrent compiles start from different hosts.
        var random = new Random(_settings.Seed);
        for (var i = hosts.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (hosts[i], hosts[j]) = (hosts[j], hosts[i]);
        }

        reason = hosts.Count > 0 ? "" : backedOff > 0
            ? $"{Plural(backedOff, "host")} failed in the last {_backoff.Period.TotalSeconds:0} s and {(backedOff == 1 ? "is" : "are")} backed off"
            : down > 0 ? $"every host in {_settings.HostsSource} is marked down" : $"{_settings.HostsSource} names no usable host";
        return hosts;
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
