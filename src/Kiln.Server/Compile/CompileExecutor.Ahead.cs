using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;

namespace Kiln.Server.Compile;

/// <summary>
/// Jobs sent ahead of their input (docs/protocol.md, "JOB ahead"): the compiler starts when JOB
/// arrives, reading its input from standard input as the INPUT frames bring it, while the client's
/// preprocessor still runs. gcc's start (the driver, then cc1 and, with <c>-pipe</c>, as beside it)
/// takes about 10 ms of a small compile; it then overlaps the client's preprocessing instead of
/// following it. The object is the same as from a file: gcc names the source from the preprocessed
/// input's line markers, not from the file it read.
/// </summary>
public sealed partial class CompileExecutor
{
    private long _aheadStarts;
    private long _aheadAbandoned;

    /// <summary>Jobs whose compiler started ahead of their input (JOB ahead).</summary>
    public long AheadStarts => Interlocked.Read(ref _aheadStarts);

    /// <summary>Jobs started ahead whose client took them back, or whose result the cache had: their compiler was stopped.</summary>
    public long AheadAbandoned => Interlocked.Read(ref _aheadAbandoned);

    /// <summary>
    /// Starts <paramref name="job"/> (its input empty) ahead of its input, or returns null when it
    /// cannot start now: no slot is free at once (an ahead job never waits for one, so a client that
    /// stalls before its input holds no queue), the machine is short of headroom, or the compiler or
    /// language cannot read its input from a pipe. The caller then runs the job the ordinary way once
    /// its input is complete.
    /// </summary>
    public AheadCompile? BeginAhead(CompileJob job, CancellationToken cancellationToken)
    {
        if (Precheck(job.Compiler, job.Arguments) is not null || _allowList.Resolve(job.Compiler, out _) is not { } compilerPath
            || PipeLanguage(job.Language) is not { } language || !ReadsStandardInput(compilerPath)
            || _admission.Refusal(Counters.Running) is not null
            || _slots.TryEnter(UserOf(job.User, job.Client), 0, CancellationToken.None) is null)
        {
            return null;
        }

        Counters.Started();
        Interlocked.Increment(ref _aheadStarts);
        var ahead = new AheadCompile();
        ahead.Run = RunAheadAsync(job, compilerPath, language, ahead, cancellationToken);
        return ahead;
    }

    /// <summary>gcc's <c>-x</c> name for preprocessed input of <paramref name="language"/> (what the ordinary way's file extension says).</summary>
    private static string? PipeLanguage(SourceLanguage language) => language switch
    {
        SourceLanguage.C or SourceLanguage.PreprocessedC => "cpp-output",
        SourceLanguage.Cxx or SourceLanguage.PreprocessedCxx => "c++-cpp-output",
        SourceLanguage.ObjC => "objective-c-cpp-output",
        SourceLanguage.ObjCxx => "objective-c++-cpp-output",
        _ => null,
    };

    /// <summary>
    /// True for the gcc family, whose objects do not depend on the input file's name. clang names its
    /// module after the file it reads ("-" for standard input), so its jobs go the ordinary way.
    /// </summary>
    private static bool ReadsStandardInput(string compilerPath) =>
        !Path.GetFileName(compilerPath).Contains("clang", StringComparison.Ordinal);

    private async Task<CompileResult?> RunAheadAsync(CompileJob job, string compilerPath, string language, AheadCompile ahead, CancellationToken cancellationToken)
    {
        // The session's thread goes back to reading INPUT frames; the compiler starts on the pool.
        await Task.Yield();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, ahead.Abandoned);
        var traceStart = PhaseTrace.Now();
        var live = Ledger.Begin(job.Client, job.FrontEnd, job.Compiler, job.SourceName, job.ActionKey, 0);
        CompileResult? result = null;
        var finished = false;
        var warm = TakeWarm(compilerPath);
        var jobDir = warm?.Directory ?? NewJobDirectory();
        var traceJob = Interlocked.Read(ref s_jobSequence);
        PhaseTrace.Mark("executor", traceJob, warm is null ? "ahead-admitted" : "ahead-admitted-warm", traceStart);
        try
        {
            Directory.CreateDirectory(jobDir);
            var arguments = new List<string>(job.Arguments.Count + 7);
            arguments.AddRange(job.Arguments);

            // -pipe: as starts beside cc1 and assembles as it goes, rather than after it.
            arguments.AddRange(["-pipe", "-c", "-x", language, "-", "-o", "output.o"]);
            var taken = warm;
            warm = null;
            ProcessRun? ran;
            if (taken is not null)
            {
                ran = await RunWarmAsync(taken, compilerPath, arguments, job.Locale, live, stop.Token, ahead).ConfigureAwait(false);
                if (ran is null)
                {
                    // The warm sandbox died: whatever input it took is lost, so the job goes the ordinary
                    // way once its input is complete, with the whole of it.
                    return null;
                }
            }
            else
            {
                ran = await RunAsync(compilerPath, arguments, jobDir, jobDir, job.Locale, live, stop.Token, ahead: ahead).ConfigureAwait(false);
            }

            PhaseTrace.Mark("executor", traceJob, "compiler-exited", traceStart);
            if (WarmEnabled && _sandbox.CanWarmFor(compilerPath))
            {
                Refill();
            }

            // Abandoned while the compiler was exiting: what it made of a partial input is no answer.
            stop.Token.ThrowIfCancellationRequested();

            result = Outcome(ran.Value, Path.Combine(jobDir, "output.o"), ahead.Length);
            finished = true;
            return result;
        }
        catch (OperationCanceledException)
        {
            // Abandoned (its result was in the cache, the client took it back, or the connection ended):
            // the compiler was killed, nothing is answered, and the job leaves no record.
            Interlocked.Increment(ref _aheadAbandoned);
            return CompileResult.Refused(RefusalKind.NodeFailure, "the job was abandoned");
        }
        catch (IOException e)
        {
            result = CompileResult.Refused(RefusalKind.NodeFailure, $"node could not run the job: {e.Message}");
            return result;
        }
        finally
        {
            if (!finished)
            {
                Counters.Abandoned();
            }

            if (warm is not null)
            {
                Discard(warm, keepDirectory: true);
            }

            if (live is not null)
            {
                live.BytesIn = ahead.Length;
                if (result is { } answered)
                {
                    Ledger.Finish(live, answered);
                }
                else
                {
                    // Abandoned, or nothing ran here and the ordinary run keeps the job's record.
                    Ledger.Forget(live);
                }
            }

            Release(jobDir);
        }
    }

    /// <summary>
    /// Copies the input to the compiler's standard input as it comes, then closes it. A compiler that
    /// stops reading (it failed) ends the copy; its exit status says why.
    /// </summary>
    private static async Task FeedAsync(Stream standardInput, AheadCompile ahead)
    {
        try
        {
            while (await ahead.Input.WaitToReadAsync(ahead.Abandoned).ConfigureAwait(false))
            {
                while (ahead.Input.TryRead(out var chunk))
                {
                    await standardInput.WriteAsync(chunk, ahead.Abandoned).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            // An abandoned job's compiler is killed instead: closing its input would end a partial one.
            if (!ahead.IsAbandoned)
            {
                try
                {
                    standardInput.Close();
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
