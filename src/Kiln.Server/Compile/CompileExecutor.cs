using System.Diagnostics;
using System.Net;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Server.Accounting;
using Kiln.Server.Scheduling;

namespace Kiln.Server.Compile;

/// <summary>
/// Runs allow-listed compilers on preprocessed input, each job in a directory of its own, with a
/// fixed number of slots shared fairly between users (<see cref="FairSlotQueue"/>). Front ends (Kiln
/// protocol, distcc) hand it jobs; it returns exactly what the compiler produced, or a refusal. Kiln
/// protocol clients can try another node, so their jobs get BUSY when the wait queue is full or the
/// machine is short of load, memory or disk headroom (<see cref="NodeAdmission"/>); stock distcc
/// clients cannot, so theirs wait.
/// </summary>
public sealed partial class CompileExecutor
{
    private readonly CompileExecutorOptions _options;
    private readonly FairSlotQueue _slots;
    private readonly NodeAdmission _admission;
    private readonly CompilerAllowList _allowList;
    private readonly JobSandbox _sandbox;
    // Shared by every executor in the process: job directories are removed after the reply, beside
    // the next job, so two executors on one job root must never reuse a name.
    private static long s_jobSequence;

    /// <summary>Creates an executor; <paramref name="readings"/> reads the machine for admission (default: /proc).</summary>
    public CompileExecutor(CompileExecutorOptions options, NodeCounters counters, IHostReadings? readings = null)
    {
        _options = options;
        Counters = counters;
        _slots = new FairSlotQueue(options.Slots);
        _allowList = new CompilerAllowList(options.CompilerDirectories);
        _sandbox = new JobSandbox(options.Limits);
        Directory.CreateDirectory(options.JobRoot);
        _admission = new NodeAdmission(options.Admission, readings ?? new ProcHostReadings(), options.JobRoot);
    }

    /// <summary>Admission control: refusals counted by reason.</summary>
    public NodeAdmission Admission => _admission;

    /// <summary>Jobs per user since the node started (see <see cref="FairSlotQueue.Shares"/>).</summary>
    public IReadOnlyList<UserShare> Shares() => _slots.Shares();

    /// <summary>Directories searched for allowed compilers.</summary>
    public IReadOnlyList<string> CompilerDirectories => _options.CompilerDirectories;

    /// <summary>Jobs waiting for a slot now.</summary>
    public int Waiting => _slots.Waiting;

    /// <summary>The node's counters.</summary>
    public NodeCounters Counters { get; }

    /// <summary>Where every job this executor answers is recorded (off until a node sets its ledger).</summary>
    public JobLedger Ledger { get; set; } = JobLedger.Off;

    /// <summary>The allow-list the executor checks.</summary>
    public CompilerAllowList AllowList => _allowList;

    /// <summary>How jobs are confined: bubblewrap or not, and the limits.</summary>
    public JobSandbox Sandbox => _sandbox;

    /// <summary>Number of compile slots.</summary>
    public int Slots => _options.Slots;

    /// <summary>Slots free now.</summary>
    public int FreeSlots => _slots.Free;

    /// <summary>
    /// Checks a job before its input arrives: the compiler is allowed and installed, and no argument
    /// is refused. Returns null when the job may run.
    /// </summary>
    public CompileResult? Precheck(string compiler, IReadOnlyList<string> arguments)
    {
        if (_allowList.Resolve(compiler, out var reason) is null)
        {
            Counters.CountRefused();
            return CompileResult.Refused(RefusalKind.CompilerNotAllowed, reason!);
        }

        var refusal = RemoteArgumentPolicy.Check(arguments);
        if (refusal is not null)
        {
            Counters.CountRefused();
            return CompileResult.Refused(RefusalKind.ArgumentRefused, refusal);
        }

        return null;
    }

    /// <summary>Runs one job: waits for a slot, compiles, returns what the compiler produced.</summary>
    public async Task<CompileResult> ExecuteAsync(CompileJob job, CancellationToken cancellationToken)
    {
        var live = Ledger.Begin(job.Client, job.FrontEnd, job.Compiler, job.SourceName, job.ActionKey, job.Input.Length);
        var result = CompileResult.Refused(RefusalKind.NodeFailure, "the job was cancelled");
        try
        {
            result = await ExecuteJobAsync(job, live, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            Ledger.Finish(live, result);
        }
    }

    private async Task<CompileResult> ExecuteJobAsync(CompileJob job, LiveJob? live, CancellationToken cancellationToken)
    {
        var pre = Precheck(job.Compiler, job.Arguments);
        if (pre is not null)
        {
            return pre.Value;
        }

        var traceStart = PhaseTrace.Now();
        var compilerPath = _allowList.Resolve(job.Compiler, out _)!;
        if (await AdmitAsync(UserOf(job.User, job.Client), job.FrontEnd == "kiln", cancellationToken).ConfigureAwait(false) is { } busy)
        {
            return busy;
        }

        var finished = false;
        var warm = TakeWarm(compilerPath);
        var jobDir = warm?.Directory ?? NewJobDirectory();
        var traceJob = Interlocked.Read(ref s_jobSequence);
        PhaseTrace.Mark("executor", traceJob, warm is null ? "admitted" : "admitted-warm", traceStart);
        try
        {
            Directory.CreateDirectory(jobDir);
            var inputName = "input" + job.Language.PreprocessedExtension();
            var inputPath = Path.Combine(jobDir, inputName);
            // Written in place, not on another pool thread: a job's files are small and go to the page
            // cache, and each hop to the pool was a thread wake-up on the job's critical path.
            File.WriteAllBytes(inputPath, job.Input.Span);
            var outputPath = Path.Combine(jobDir, "output.o");
            PhaseTrace.Mark("executor", traceJob, "input-written", traceStart);

            var arguments = new List<string>(job.Arguments.Count + 4);
            arguments.AddRange(job.Arguments);
            arguments.Add("-c");
            arguments.Add(inputName);
            arguments.Add("-o");
            arguments.Add("output.o");

            // From here the warm sandbox is RunWarmAsync's: it runs the job or ends the sandbox.
            var taken = warm;
            warm = null;
            var ran = taken is null ? null : await RunWarmAsync(taken, compilerPath, arguments, job.Locale, live, cancellationToken).ConfigureAwait(false);
            var run = ran ?? await RunAsync(compilerPath, arguments, jobDir, jobDir, job.Locale, live, cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("executor", traceJob, "compiler-exited", traceStart);
            if (WarmEnabled && _sandbox.CanWarmFor(compilerPath))
            {
                // The sandbox this job's successor takes, set up now that this compile no longer runs beside it.
                Refill();
            }

            finished = true;
            var answer = Outcome(run, outputPath, job.Input.Length);
            PhaseTrace.Mark("executor", traceJob, "object-read", traceStart);
            return answer;
        }
        catch (IOException e)
        {
            return CompileResult.Refused(RefusalKind.NodeFailure, $"node could not run the job: {e.Message}");
        }
        finally
        {
            if (!finished)
            {
                Counters.Abandoned();
            }

            if (warm is not null)
            {
                // Taken but never told to go (the input could not be written, or the job was cancelled);
                // Release removes the directory.
                Discard(warm, keepDirectory: true);
            }

            Release(jobDir);
            PhaseTrace.Mark("executor", traceJob, "cleaned-up", traceStart);
        }
    }

    /// <summary>
    /// What a finished compiler run answers: its outputs and the object it wrote at
    /// <paramref name="outputPath"/>, or a refusal (a limit met, an object over the cap). Counts the job.
    /// </summary>
    private CompileResult Outcome(ProcessRun run, string outputPath, long inputLength)
    {
        if (run.Refusal is not null)
        {
            Counters.Abandoned();
            return run.Refusal.Value;
        }

        ReadOnlyMemory<byte> obj = ReadOnlyMemory<byte>.Empty;
        if (run.ExitCode == 0 && File.Exists(outputPath))
        {
            var length = new FileInfo(outputPath).Length;
            if (length > _options.MaxOutputBytes)
            {
                Counters.Abandoned();
                return CompileResult.Refused(RefusalKind.TooLarge, $"object file of {length} bytes exceeds the node's limit of {_options.MaxOutputBytes}");
            }

            obj = File.ReadAllBytes(outputPath);
        }

        var outcome = new CompileOutcome { ExitCode = run.ExitCode, Stdout = run.Stdout, Stderr = run.Stderr, Object = obj };
        Counters.Finished(run.ExitCode, inputLength, obj.Length + run.Stdout.Length + run.Stderr.Length);
        return CompileResult.Of(outcome);
    }

    /// <summary>
    /// Takes a compile slot for <paramref name="user"/>, waiting in turn for one. A job whose client can
    /// try elsewhere gets a BUSY refusal instead when the machine says no or the wait queue is full;
    /// other jobs get BUSY only when the (long) queue is full. The caller releases with <see cref="Release"/>.
    /// </summary>
    private async ValueTask<CompileResult?> AdmitAsync(string user, bool canTryElsewhere, CancellationToken cancellationToken)
    {
        if (canTryElsewhere && _admission.Refusal(Counters.Running) is { } refusal)
        {
            Counters.CountBusy();
            return CompileResult.Refused(RefusalKind.Busy, refusal);
        }

        var maxWaiting = canTryElsewhere ? _options.Admission.MaxWaiting ?? _options.Slots : _options.MaxQueued;
        var entered = _slots.TryEnter(user, maxWaiting, cancellationToken);
        if (entered is null)
        {
            Counters.CountBusy();
            return CompileResult.Refused(RefusalKind.Busy, $"node busy: {_options.Slots} slots and {maxWaiting} queued jobs are taken");
        }

        await entered.ConfigureAwait(false);
        Counters.Started();
        return null;
    }

    /// <summary>
    /// The user a job counts for in fair sharing: its identity when the protocol gave one, else the
    /// client's address (every connection from one machine is one user).
    /// </summary>
    public static string UserOf(string identity, string client)
    {
        if (identity.Length > 0)
        {
            return identity;
        }

        var at = client.LastIndexOf('@');
        var peer = at >= 0 ? client[(at + 1)..] : client;
        return IPEndPoint.TryParse(peer, out var endPoint) ? endPoint.Address.ToString() : peer;
    }

    /// <summary>Gives back a slot taken by <see cref="AdmitAsync"/> and removes the job's directory.</summary>
    private void Release(string jobDirectory)
    {
        _slots.Release();

        // Removing the directory took 0.7-5 ms per job here (KILN_TRACE, docs/benchmarks.md,
        // overhead-analysis), before the reply went out: it runs beside the reply instead.
        ThreadPool.UnsafeQueueUserWorkItem(static directory => TryDelete(directory), jobDirectory, preferLocal: false);
    }

    /// <summary>A fresh, unique directory name for one job under the job root.</summary>
    private string NewJobDirectory() =>
        Path.Combine(_options.JobRoot, $"{Environment.ProcessId}-{Interlocked.Increment(ref s_jobSequence)}");

    private const string NiceProgram = "/usr/bin/nice";

    private readonly record struct ProcessRun(int ExitCode, byte[] Stdout, byte[] Stderr, CompileResult? Refusal);

    private async Task<ProcessRun> RunAsync(
        string compiler, List<string> arguments, string workingDirectory, string jobDirectory, IReadOnlyDictionary<string, string> locale, LiveJob? live,
        CancellationToken cancellationToken, IReadOnlyList<string>? view = null, KeyValuePair<string, string>? variable = null, AheadCompile? ahead = null)
    {
        var (program, commandLine) = _sandbox.Command(compiler, arguments, workingDirectory, jobDirectory, view);

        // With a view, the working directory exists only inside the sandbox.
        var info = StartInfo(program, commandLine, view is null ? workingDirectory : jobDirectory, view is null ? workingDirectory : "/tmp");
        if (variable is { } extra)
        {
            info.Environment[extra.Key] = extra.Value;
        }

        foreach (var (name, value) in LocaleOf(locale))
        {
            info.Environment[name] = value;
        }

        live?.Started();
        Process process;
        try
        {
            process = await _sandbox.StartAsync(info).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.NodeFailure, $"could not start {compiler}: {e.Message}"));
        }

        using var started = process;
        if (ahead is null)
        {
            process.StandardInput.Close();
        }
        else
        {
            _ = FeedAsync(process.StandardInput.BaseStream, ahead);
        }

        return await WaitAsync(process, live, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// How a job's process starts: <paramref name="program"/> with <paramref name="commandLine"/>, at a
    /// lower priority when the node lends a workstation's cores, with its three standard streams
    /// redirected and a scrubbed environment (the compiler sees only what a compile needs).
    /// </summary>
    private ProcessStartInfo StartInfo(string program, List<string> commandLine, string processDirectory, string temporaryDirectory)
    {
        // A workstation lends its cores at a lower priority than its owner's own work.
        var niced = _options.Nice > 0 && File.Exists(NiceProgram);
        var info = new ProcessStartInfo(niced ? NiceProgram : program)
        {
            WorkingDirectory = processDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (niced)
        {
            info.ArgumentList.Add("-n");
            info.ArgumentList.Add(_options.Nice.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(program);
        }

        foreach (var a in commandLine)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment.Clear();
        info.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        info.Environment["TMPDIR"] = temporaryDirectory;
        return info;
    }

    /// <summary>The client's locale variables a job gets: only well-formed locale names pass, as they select message catalogs and nothing else.</summary>
    private static IEnumerable<KeyValuePair<string, string>> LocaleOf(IReadOnlyDictionary<string, string> locale)
    {
        foreach (var name in CompileJob.LocaleVariables)
        {
            if (locale.TryGetValue(name, out var value) && value.Length < 64 && IsLocaleName(value))
            {
                yield return new(name, value);
            }
        }
    }

    /// <summary>
    /// Collects a started job's output and exit status (its standard input already closed), within
    /// the job lifetime and the output cap; a job that met a limit is refused, so the client compiles
    /// it elsewhere.
    /// </summary>
    private async Task<ProcessRun> WaitAsync(Process process, LiveJob? live, CancellationToken cancellationToken)
    {
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lifetime.CancelAfter(_options.JobLifetime);
        var stdoutTask = ReadCappedAsync(process.StandardOutput.BaseStream, _options.MaxOutputBytes, lifetime.Token);
        var stderrTask = ReadCappedAsync(process.StandardError.BaseStream, _options.MaxOutputBytes, lifetime.Token);
        try
        {
            // The outputs end when the process exits (the sandbox holds them to its end), and that end
            // arrives through the socket engine at once; the exit itself comes through the signal
            // thread and then a wait thread, two more hops that cost each job most of a millisecond
            // (perf trace). So the outputs are awaited first, and then the signal thread's reaping
            // of the process is waited for here, briefly; only a process that closed its outputs
            // and lives on is waited for asynchronously.
            var first = await Task.WhenAny(stdoutTask, stderrTask).ConfigureAwait(false);
            if (await first.ConfigureAwait(false) is null || await (first == stdoutTask ? stderrTask : stdoutTask).ConfigureAwait(false) is null)
            {
                // Past the cap, no more is read: the compiler would block on the full pipe until the
                // job's lifetime ran out, so it is ended now.
                KillQuietly(process);
                await Task.WhenAll(Quietly(stdoutTask), Quietly(stderrTask)).ConfigureAwait(false);
                return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.TooLarge, $"compiler output exceeds the node's limit of {_options.MaxOutputBytes} bytes"));
            }

            var stdout = stdoutTask.Result!;
            var stderr = stderrTask.Result!;

            if (!process.WaitForExit(ReapPatience))
            {
                await process.WaitForExitAsync(lifetime.Token).ConfigureAwait(false);
            }

            live?.CompilerExited();

            var limit = _sandbox.LimitMessage(process.ExitCode, stderr);
            if (limit is not null)
            {
                return new ProcessRun(process.ExitCode, stdout, stderr, CompileResult.Refused(
                    limit.StartsWith("the sandbox", StringComparison.Ordinal) ? RefusalKind.NodeFailure : RefusalKind.TooLarge, limit));
            }

            return new ProcessRun(process.ExitCode, stdout, stderr, null);
        }
        catch (OperationCanceledException)
        {
            KillQuietly(process);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.NodeFailure, $"compile killed after the job lifetime of {_options.JobLifetime.TotalSeconds:0} s"));
        }
    }

    /// <summary>How long a job's thread waits for the signal thread to reap a compiler whose outputs have ended.</summary>
    private static readonly TimeSpan ReapPatience = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits for a read of a killed process's output to end, whatever it ends with.</summary>
    private static async Task Quietly(Task<byte[]?> read)
    {
        try
        {
            await read.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static void KillQuietly(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }
    }

    private static bool IsLocaleName(string value)
    {
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '@'))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<byte[]?> ReadCappedAsync(Stream stream, long cap, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > cap)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
