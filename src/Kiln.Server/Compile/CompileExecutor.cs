using System.Diagnostics;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;

namespace Kiln.Server.Compile;

/// <summary>
/// Runs allow-listed compilers on preprocessed input, each job in a directory of its own, with a
/// fixed number of slots. Front ends (Kiln protocol, distcc) hand it jobs; it returns exactly what the
/// compiler produced, or a refusal.
/// </summary>
public sealed partial class CompileExecutor
{
    private readonly CompileExecutorOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly CompilerAllowList _allowList;
    private long _jobSequence;
    private int _queued;

    /// <summary>Creates an executor.</summary>
    public CompileExecutor(CompileExecutorOptions options, NodeCounters counters)
    {
        _options = options;
        Counters = counters;
        _slots = new SemaphoreSlim(options.Slots, options.Slots);
        _allowList = new CompilerAllowList(options.CompilerDirectories);
        Directory.CreateDirectory(options.JobRoot);
    }

    /// <summary>The node's counters.</summary>
    public NodeCounters Counters { get; }

    /// <summary>The allow-list the executor checks.</summary>
    public CompilerAllowList AllowList => _allowList;

    /// <summary>Number of compile slots.</summary>
    public int Slots => _options.Slots;

    /// <summary>Slots free now.</summary>
    public int FreeSlots => _slots.CurrentCount;

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
        var pre = Precheck(job.Compiler, job.Arguments);
        if (pre is not null)
        {
            return pre.Value;
        }

        var traceStart = PhaseTrace.Now();
        var compilerPath = _allowList.Resolve(job.Compiler, out _)!;
        if (await AdmitAsync(cancellationToken).ConfigureAwait(false) is { } busy)
        {
            return busy;
        }

        var finished = false;
        var jobDir = NewJobDirectory();
        var traceJob = _jobSequence;
        PhaseTrace.Mark("executor", traceJob, "admitted", traceStart);
        try
        {
            Directory.CreateDirectory(jobDir);
            var inputName = "input" + job.Language.PreprocessedExtension();
            var inputPath = Path.Combine(jobDir, inputName);
            await File.WriteAllBytesAsync(inputPath, job.Input, cancellationToken).ConfigureAwait(false);
            var outputPath = Path.Combine(jobDir, "output.o");
            PhaseTrace.Mark("executor", traceJob, "input-written", traceStart);

            var arguments = new List<string>(job.Arguments.Count + 4);
            arguments.AddRange(job.Arguments);
            arguments.Add("-c");
            arguments.Add(inputName);
            arguments.Add("-o");
            arguments.Add("output.o");

            var run = await RunAsync(compilerPath, arguments, jobDir, job.Locale, cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("executor", traceJob, "compiler-exited", traceStart);
            if (run.Refusal is not null)
            {
                Counters.Abandoned();
                finished = true;
                return run.Refusal.Value;
            }

            ReadOnlyMemory<byte> obj = ReadOnlyMemory<byte>.Empty;
            if (run.ExitCode == 0 && File.Exists(outputPath))
            {
                var length = new FileInfo(outputPath).Length;
                if (length > _options.MaxOutputBytes)
                {
                    Counters.Abandoned();
                    finished = true;
                    return CompileResult.Refused(RefusalKind.TooLarge, $"object file of {length} bytes exceeds the node's limit of {_options.MaxOutputBytes}");
                }

                obj = await File.ReadAllBytesAsync(outputPath, cancellationToken).ConfigureAwait(false);
            }

            PhaseTrace.Mark("executor", traceJob, "object-read", traceStart);
            var outcome = new CompileOutcome { ExitCode = run.ExitCode, Stdout = run.Stdout, Stderr = run.Stderr, Object = obj };
            Counters.Finished(run.ExitCode, job.Input.Length, obj.Length + run.Stdout.Length + run.Stderr.Length);
            finished = true;
            return CompileResult.Of(outcome);
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

            Release(jobDir);
            PhaseTrace.Mark("executor", traceJob, "cleaned-up", traceStart);
        }
    }

    /// <summary>
    /// Takes a compile slot, waiting in the queue for one; returns a BUSY refusal instead when the queue
    /// is full. The caller releases with <see cref="Release"/>.
    /// </summary>
    private async ValueTask<CompileResult?> AdmitAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _queued) > _options.Slots + _options.MaxQueued)
        {
            Interlocked.Decrement(ref _queued);
            Counters.CountBusy();
            return CompileResult.Refused(RefusalKind.Busy, $"node busy: {_options.Slots} slots and {_options.MaxQueued} queued jobs are taken");
        }

        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _queued);
            throw;
        }

        Counters.Started();
        return null;
    }

    /// <summary>Gives back a slot taken by <see cref="AdmitAsync"/> and has the job's directory removed.</summary>
    private void Release(string jobDirectory)
    {
        _slots.Release();
        Interlocked.Decrement(ref _queued);

        // Removing the directory took 0.7-5 ms per job here (KILN_TRACE, docs/benchmarks.md,
        // overhead-analysis), before the reply went out: it runs beside the reply instead.
        ThreadPool.UnsafeQueueUserWorkItem(static directory => TryDelete(directory), jobDirectory, preferLocal: false);
    }

    /// <summary>A fresh, unique directory name for one job under the job root.</summary>
    private string NewJobDirectory() =>
        Path.Combine(_options.JobRoot, $"{Environment.ProcessId}-{Interlocked.Increment(ref _jobSequence)}");

    private readonly record struct ProcessRun(int ExitCode, byte[] Stdout, byte[] Stderr, CompileResult? Refusal);

    private async Task<ProcessRun> RunAsync(
        string compiler, List<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string> locale, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(compiler)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        // A scrubbed environment: the compiler sees only what a compile needs.
        info.Environment.Clear();
        info.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        info.Environment["TMPDIR"] = workingDirectory;
        foreach (var name in CompileJob.LocaleVariables)
        {
            // Only well-formed locale names pass: they select message catalogs, nothing else.
            if (locale.TryGetValue(name, out var value) && value.Length < 64 && IsLocaleName(value))
            {
                info.Environment[name] = value;
            }
        }

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.NodeFailure, $"could not start {compiler}: {e.Message}"));
        }

        process.StandardInput.Close();
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lifetime.CancelAfter(_options.JobLifetime);
        var stdoutTask = ReadCappedAsync(process.StandardOutput.BaseStream, _options.MaxOutputBytes, lifetime.Token);
        var stderrTask = ReadCappedAsync(process.StandardError.BaseStream, _options.MaxOutputBytes, lifetime.Token);
        try
        {
            await process.WaitForExitAsync(lifetime.Token).ConfigureAwait(false);
            var stdout = await stdoutTask.ConfigureAwait(false);
            var stderr = await stderrTask.ConfigureAwait(false);
            if (stdout is null || stderr is null)
            {
                return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.TooLarge, $"compiler output exceeds the node's limit of {_options.MaxOutputBytes} bytes"));
            }

            return new ProcessRun(process.ExitCode, stdout, stderr, null);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return new ProcessRun(-1, [], [], CompileResult.Refused(RefusalKind.NodeFailure, $"compile killed after the job lifetime of {_options.JobLifetime.TotalSeconds:0} s"));
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
