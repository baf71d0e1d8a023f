using System.Text;
using Kiln.Core.Compile;
using Kiln.Server.Accounting;

namespace Kiln.Server.Compile;

/// <summary>Pump mode (distcc protocol 3): the node preprocesses and compiles the client's files under a fake root.</summary>
public sealed partial class CompileExecutor
{
    /// <summary>Include options whose absolute values name client paths (distccd's list); they are moved under the fake root.</summary>
    private static readonly string[] s_includeOptions =
        ["-I", "-include", "-imacros", "-idirafter", "-iprefix", "-iwithprefix", "-iwithprefixbefore", "-isystem", "-iquote"];

    /// <summary>
    /// Runs a pump-mode job: checks the compiler and the arguments as for a preprocessed job, recreates
    /// the client's files under a fake root (refusing any that escape it), compiles there with the
    /// client's include paths moved under the root, and returns the object and the dependency file
    /// rewritten to client paths.
    /// </summary>
    public async Task<CompileResult> ExecutePumpAsync(PumpJob job, CancellationToken cancellationToken)
    {
        var bytesIn = 0L;
        foreach (var file in job.Files)
        {
            bytesIn += file.Content?.Length ?? 0;
        }

        var live = Ledger.Begin(job.Client, "distcc", job.Compiler, job.Arguments.Count > 0 ? job.Arguments[^1] : "", "", bytesIn);
        var result = CompileResult.Refused(RefusalKind.NodeFailure, "the job was cancelled");
        try
        {
            result = await ExecutePumpJobAsync(job, live, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            Ledger.Finish(live, result);
        }
    }

    private async Task<CompileResult> ExecutePumpJobAsync(PumpJob job, LiveJob? live, CancellationToken cancellationToken)
    {
        var command = CompileCommand.Parse(job.Compiler, job.Arguments);
        if (!command.IsDistributable)
        {
            Counters.CountRefused();
            return CompileResult.Refused(RefusalKind.ArgumentRefused, $"not a distributable compile: {command.LocalReason}");
        }

        var pre = Precheck(job.Compiler, command.RemoteArguments());
        if (pre is not null)
        {
            return pre.Value;
        }

        var refusal = PumpOnlyRefusal(job.Arguments);
        if (refusal is not null)
        {
            Counters.CountRefused();
            return CompileResult.Refused(RefusalKind.ArgumentRefused, refusal);
        }

        var compilerPath = _allowList.Resolve(job.Compiler, out _)!;
        if (await AdmitAsync(UserOf("", job.Client), canTryElsewhere: false, cancellationToken).ConfigureAwait(false) is { } busy)
        {
            return busy;
        }

        var finished = false;
        var jobDir = NewJobDirectory();
        try
        {
            Directory.CreateDirectory(jobDir);
            var outDir = Path.Combine(jobDir, "out");
            Directory.CreateDirectory(outDir);
            var root = new PumpRoot(Path.Combine(jobDir, "root"));
            long inputBytes = 0;
            foreach (var file in job.Files)
            {
                var fileRefusal = root.Add(file);
                if (fileRefusal is not null)
                {
                    return Refuse(RefusalKind.ArgumentRefused, fileRefusal);
                }

                inputBytes += file.Content?.Length ?? 0;
            }

            var linkRefusal = root.CheckLinks() ?? root.CreateDirectory(job.ClientDirectory);
            if (linkRefusal is not null)
            {
                return Refuse(RefusalKind.ArgumentRefused, linkRefusal);
            }

            var outputPath = Path.Combine(outDir, "output.o");
            var depsPath = Path.Combine(outDir, "output.d");
            var (arguments, dependencyTarget) = PumpArguments(command, root, outputPath, depsPath);
            var run = await RunAsync(compilerPath, arguments, root.Map(job.ClientDirectory), jobDir, job.Locale, live, cancellationToken).ConfigureAwait(false);
            if (run.Refusal is not null)
            {
                Counters.Abandoned();
                finished = true;
                return run.Refusal.Value;
            }

            ReadOnlyMemory<byte> obj = ReadOnlyMemory<byte>.Empty;
            byte[]? deps = null;
            if (run.ExitCode == 0)
            {
                if (File.Exists(outputPath))
                {
                    var length = new FileInfo(outputPath).Length;
                    if (length > _options.MaxOutputBytes)
                    {
                        return Refuse(RefusalKind.TooLarge, $"object file of {length} bytes exceeds the node's limit of {_options.MaxOutputBytes}");
                    }

                    obj = await File.ReadAllBytesAsync(outputPath, cancellationToken).ConfigureAwait(false);
                }

                if (File.Exists(depsPath) && new FileInfo(depsPath).Length <= _options.MaxOutputBytes)
                {
                    var text = await File.ReadAllTextAsync(depsPath, cancellationToken).ConfigureAwait(false);
                    deps = Encoding.UTF8.GetBytes(ClientDependencyFile(text, outputPath, dependencyTarget ?? command.Output, root));
                }
            }

            var stderr = run.Stderr.Length == 0 ? run.Stderr : Encoding.UTF8.GetBytes(root.ToClientPaths(Encoding.UTF8.GetString(run.Stderr)));
            var outcome = new CompileOutcome { ExitCode = run.ExitCode, Stdout = run.Stdout, Stderr = stderr, Object = obj, DependencyFile = deps ?? [] };
            Counters.Finished(run.ExitCode, inputBytes, obj.Length + run.Stdout.Length + stderr.Length);
            finished = true;
            return CompileResult.Of(outcome);
        }
        catch (IOException e)
        {
            return CompileResult.Refused(RefusalKind.NodeFailure, $"node could not run the job: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
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
        }

        CompileResult Refuse(RefusalKind kind, string message)
        {
            Counters.CountRefused();
            return CompileResult.Refused(kind, message);
        }
    }

    /// <summary>
    /// Options that are harmless once the client has preprocessed but act on the node when it
    /// preprocesses: they pass options to the preprocessor unseen, or choose the node's system root.
    /// </summary>
    private static string? PumpOnlyRefusal(IReadOnlyList<string> arguments)
    {
        foreach (var a in arguments)
        {
            if (a.StartsWith("-Wp,", StringComparison.Ordinal) || a == "-Xpreprocessor")
            {
                return $"argument '{a}' refused: it passes options to the preprocessor that the node cannot check";
            }

            if (a.StartsWith("-isysroot", StringComparison.Ordinal) || a.StartsWith("-imultilib", StringComparison.Ordinal)
                || a.StartsWith("-iplugindir", StringComparison.Ordinal))
            {
                return $"argument '{a}' refused: it names paths on the node's disk";
            }

            if (a.Length > 0 && a[0] == '@')
            {
                return $"argument '{a}' refused: response files are read from the node's disk";
            }
        }

        return null;
    }

    /// <summary>
    /// The node's command line for a pump job, as distccd builds it: the client's arguments with
    /// absolute include paths and the source moved under the fake root, <c>-o</c> and <c>-MF</c> pointed
    /// at the node's files, <c>-MT</c> taken out (its value becomes the dependency target) and
    /// <c>-MMD</c> added when no dependency option is given. Paths in debug information and
    /// <c>__FILE__</c> are mapped back to client paths with <c>-ffile-prefix-map</c>.
    /// </summary>
    private static (List<string> Arguments, string? DependencyTarget) PumpArguments(
        CompileCommand command, PumpRoot root, string outputPath, string depsPath)
    {
        var args = command.Arguments;
        var result = new List<string>(args.Count + 8) { "-ffile-prefix-map=" + root.Path + "=" };
        string? target = null;
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (i == command.SourceIndex)
            {
                result.Add(a.StartsWith('/') ? root.Map(a) : a);
                continue;
            }

            if (i == command.OutputOptionIndex)
            {
                if (a == "-o")
                {
                    i++;
                }

                continue;
            }

            if (a is "-MF" or "-MT")
            {
                if (a == "-MT" && i + 1 < args.Count)
                {
                    target = target is null ? args[i + 1] : target + " " + args[i + 1];
                }

                i++;
                continue;
            }

            if (a.StartsWith("-MF", StringComparison.Ordinal))
            {
                continue;
            }

            if (a.StartsWith("-MT", StringComparison.Ordinal))
            {
                target = target is null ? a[3..] : target + " " + a[3..];
                continue;
            }

            var handled = false;
            foreach (var option in s_includeOptions)
            {
                if (a == option)
                {
                    result.Add(a);
                    if (i + 1 < args.Count)
                    {
                        i++;
                        result.Add(args[i].StartsWith('/') ? root.Map(args[i]) : args[i]);
                    }

                    handled = true;
                    break;
                }

                if (a.StartsWith(option, StringComparison.Ordinal) && a.Length > option.Length && a[option.Length] == '/')
                {
                    result.Add(option + root.Map(a[option.Length..]));
                    handled = true;
                    break;
                }
            }

            if (!handled)
            {
                result.Add(a);
            }
        }

        if (!command.WritesDependencyFile)
        {
            result.Add("-MMD");
        }

        result.Add("-MF");
        result.Add(depsPath);
        result.Add("-o");
        result.Add(outputPath);
        return (result, target);
    }

    /// <summary>
    /// The dependency file as the client would have written it: the node's output name replaced by the
    /// client's target in the first place it appears on each line, and the fake root removed from
    /// every path (distccd's <c>dcc_cleanup_dotd</c>).
    /// </summary>
    private static string ClientDependencyFile(string text, string serverOutput, string clientTarget, PumpRoot root)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var at = line.IndexOf(serverOutput, StringComparison.Ordinal);
            if (at >= 0)
            {
                line = string.Concat(line.AsSpan(0, at), clientTarget, line.AsSpan(at + serverOutput.Length));
            }

            lines[i] = root.ToClientPaths(line);
        }

        return string.Join('\n', lines);
    }
}
