using System.Collections.Concurrent;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Server.Accounting;

namespace Kiln.Server.Compile;

/// <summary>
/// Remote preprocessing (docs/protocol.md, PREPROCESS): the node runs the client's unpreprocessed
/// compile with each file the client's manifest names at the client's own path inside the sandbox,
/// so the command line runs unchanged and the outputs are what the client's compiler would write.
/// </summary>
/// <remarks>
/// Files outside <c>/usr</c> come with the job and are all the sandbox shows of the client's tree.
/// Files under <c>/usr</c> come as digests: the node's own copy is used only when it has the same
/// digest. The compiler lists every file it read (the client's <c>-MD</c> file, or
/// <c>SUNPRO_DEPENDENCIES</c> without one), and a result is kept only when each is one the job named:
/// a header of the node's that the client's compile would not have read fails the job, and the
/// client preprocesses it itself. <c>-MMD</c> lists no system headers, so it is refused.
/// </remarks>
public sealed partial class CompileExecutor
{
    /// <summary>The most directory binds one job's layout may take (each is a mount in bubblewrap).</summary>
    private const int MaxLayoutDirectories = 256;

    /// <summary>Top-level paths the client's files may not be laid over: the sandbox's own system view.</summary>
    private static readonly string[] s_reservedRoots = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/dev", "/proc", "/sys", "/run"];

    /// <summary>The digests of this node's system files, by path, length and modification time (headers rarely change).</summary>
    private readonly ConcurrentDictionary<string, (long Length, DateTime Modified, Digest Digest)> _systemDigests = new(StringComparer.Ordinal);

    /// <summary>
    /// True when this node can run PREPROCESS: the sandbox is what lays the client's paths out, and
    /// gcc's list of the files it read is named in a variable that ends its file name at a space.
    /// </summary>
    public bool CanPreprocessRemotely => _sandbox.BubblewrapPath is not null && !_options.JobRoot.Contains(' ', StringComparison.Ordinal);

    /// <summary>Runs a PREPROCESS job (see the type's remarks); <paramref name="command"/> is its parsed command line, <paramref name="user"/> counts for fair sharing.</summary>
    public async Task<CompileResult> ExecuteInPlaceAsync(KilnPreprocessJob job, CompileCommand command, string client, string user, CancellationToken cancellationToken)
    {
        var bytesIn = 0L;
        foreach (var file in job.Files)
        {
            bytesIn += file.Content?.Length ?? 0;
        }

        var live = Ledger.Begin(client, "kiln", job.Compiler, command.IsDistributable ? command.Source : "", "", bytesIn);
        var result = CompileResult.Refused(RefusalKind.NodeFailure, "the job was cancelled");
        try
        {
            result = await ExecuteInPlaceJobAsync(job, command, client, user, live, cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            Ledger.Finish(live, result);
        }
    }

    private async Task<CompileResult> ExecuteInPlaceJobAsync(KilnPreprocessJob job, CompileCommand command, string client, string user, LiveJob? live,
        CancellationToken cancellationToken)
    {
        if (!CanPreprocessRemotely)
        {
            return Refuse(RefusalKind.PreprocessRefused, "this node runs jobs without the sandbox (--sandbox off), which remote preprocessing needs");
        }

        if (!command.IsDistributable)
        {
            return Refuse(RefusalKind.ArgumentRefused, $"not a distributable compile: {command.LocalReason}");
        }

        if (Precheck(job.Compiler, command.RemoteArguments()) is { } pre)
        {
            return pre;
        }

        if (PumpOnlyRefusal(job.Arguments) is { } argumentRefusal)
        {
            return Refuse(RefusalKind.ArgumentRefused, argumentRefusal);
        }

        var traceStart = PhaseTrace.Now();
        var layout = Layout(job, command);
        if (layout.Refusal is not null)
        {
            return Refuse(RefusalKind.PreprocessRefused, layout.Refusal);
        }

        var compilerPath = _allowList.Resolve(job.Compiler, out _)!;
        if (await AdmitAsync(UserOf(user, client), canTryElsewhere: true, cancellationToken).ConfigureAwait(false) is { } busy)
        {
            return busy;
        }

        var finished = false;
        var jobDir = NewJobDirectory();
        var traceJob = Interlocked.Read(ref s_jobSequence);
        PhaseTrace.Mark("in-place", traceJob, "admitted", traceStart);
        try
        {
            var root = Path.Combine(jobDir, "root");
            Directory.CreateDirectory(root);
            var view = new List<string>();
            foreach (var directory in layout.Created)
            {
                Directory.CreateDirectory(root + directory);
            }

            foreach (var (path, content) in layout.Shipped)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(root + path)!);
                await File.WriteAllBytesAsync(root + path, content, cancellationToken).ConfigureAwait(false);
            }

            foreach (var directory in layout.Directories)
            {
                view.AddRange(["--bind", root + directory, directory]);
            }

            PhaseTrace.Mark("in-place", traceJob, "laid-out", traceStart);

            // Without a dependency option of the client's, gcc lists what it read here (all but the source).
            var readList = layout.DependencyFile is null ? Path.Combine(jobDir, "read.d") : null;
            KeyValuePair<string, string>? listing = readList is null ? null : new("SUNPRO_DEPENDENCIES", readList + " kiln");
            var run = await RunAsync(compilerPath, [.. job.Arguments], job.WorkingDirectory, jobDir, job.Locale, live, cancellationToken, view, listing)
                .ConfigureAwait(false);
            PhaseTrace.Mark("in-place", traceJob, "compiler-exited", traceStart);
            if (run.Refusal is not null)
            {
                Counters.Abandoned();
                finished = true;
                return run.Refusal.Value;
            }

            ReadOnlyMemory<byte> obj = ReadOnlyMemory<byte>.Empty;
            ReadOnlyMemory<byte>? dependency = null;
            if (run.ExitCode == 0)
            {
                var outputPath = root + layout.Output;
                if (File.Exists(outputPath))
                {
                    var length = new FileInfo(outputPath).Length;
                    if (length > _options.MaxOutputBytes)
                    {
                        return Refuse(RefusalKind.TooLarge, $"object file of {length} bytes exceeds the node's limit of {_options.MaxOutputBytes}");
                    }

                    obj = await File.ReadAllBytesAsync(outputPath, cancellationToken).ConfigureAwait(false);
                }

                if (layout.DependencyFile is { } dependencyPath && File.Exists(root + dependencyPath) && new FileInfo(root + dependencyPath).Length <= _options.MaxOutputBytes)
                {
                    dependency = await File.ReadAllBytesAsync(root + dependencyPath, cancellationToken).ConfigureAwait(false);
                }

                var list = readList ?? (layout.DependencyFile is { } written ? root + written : null);
                if (list is null || !File.Exists(list) || new FileInfo(list).Length > _options.MaxOutputBytes)
                {
                    return Refuse(RefusalKind.PreprocessRefused, "the compiler did not list the files it read");
                }

                var unnamed = UnnamedFile(await File.ReadAllTextAsync(list, cancellationToken).ConfigureAwait(false), layout);
                if (unnamed is not null)
                {
                    return Refuse(RefusalKind.PreprocessRefused, $"the compile read {unnamed}, which the client's list did not name");
                }
            }

            PhaseTrace.Mark("in-place", traceJob, "checked", traceStart);
            var outcome = new CompileOutcome { ExitCode = run.ExitCode, Stdout = run.Stdout, Stderr = run.Stderr, Object = obj, DependencyFile = dependency };
            Counters.Finished(run.ExitCode, layout.ShippedBytes, obj.Length + run.Stdout.Length + run.Stderr.Length);
            finished = true;
            return CompileResult.Of(outcome);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
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

    /// <summary>Where a PREPROCESS job's files go, or why they cannot.</summary>
    private sealed record InPlaceLayout(
        string? Refusal, List<(string Path, ReadOnlyMemory<byte> Content)> Shipped, HashSet<string> Named, string WorkingDirectory, List<string> Directories,
        IReadOnlyCollection<string> Created, string Output, string? DependencyFile, long ShippedBytes)
    {
        public static InPlaceLayout Refused(string why) => new(why, [], [], "", [], [], "", null, 0);
    }

    /// <summary>
    /// Lays a PREPROCESS job out: every name made absolute against the client's working directory;
    /// files under <c>/usr</c> checked against this node's copies; the rest written under the job's
    /// root and shown at their own paths through the fewest directory binds (the working directory and
    /// the output's and dependency file's directories among them, writable).
    /// </summary>
    private InPlaceLayout Layout(KilnPreprocessJob job, CompileCommand command)
    {
        if (job.Arguments.Contains("-MMD"))
        {
            return InPlaceLayout.Refused("-MMD lists no system headers, so the node cannot show that it read only the files named");
        }

        var cwd = Normalize(job.WorkingDirectory);
        if (cwd is null || Reserved(cwd))
        {
            return InPlaceLayout.Refused($"the working directory {job.WorkingDirectory} cannot be shown in the sandbox");
        }

        var shipped = new List<(string, ReadOnlyMemory<byte>)>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        var directories = new SortedSet<string>(StringComparer.Ordinal) { cwd };
        long shippedBytes = 0;
        foreach (var file in job.Files)
        {
            var path = Normalize(file.Name.StartsWith('/') ? file.Name : cwd + "/" + file.Name);
            if (path is null)
            {
                return InPlaceLayout.Refused($"the file name {file.Name} is not a path the sandbox can show");
            }

            if (path.StartsWith("/usr/", StringComparison.Ordinal))
            {
                if (SystemDigest(path) is not { } mine)
                {
                    return InPlaceLayout.Refused($"{path} is not on this node");
                }

                if (mine != file.Digest)
                {
                    return InPlaceLayout.Refused($"this node's {path} differs from the client's");
                }

                named.Add(path);
                continue;
            }

            if (Reserved(path) || file.Content is not { } content)
            {
                return InPlaceLayout.Refused($"{path} came without its content or lies where the sandbox keeps its own files");
            }

            shipped.Add((path, content));
            named.Add(path);
            shippedBytes += content.Length;
            directories.Add(Path.GetDirectoryName(path)!);
        }

        var output = Normalize(command.Output.StartsWith('/') ? command.Output : cwd + "/" + command.Output);
        var dependency = command.WritesDependencyFile && command.DependencyFile is { } d ? Normalize(d.StartsWith('/') ? d : cwd + "/" + d) : null;
        if (output is null || Reserved(output) || (command.WritesDependencyFile && (dependency is null || Reserved(dependency))))
        {
            return InPlaceLayout.Refused("the output or dependency file lies where the sandbox cannot write");
        }

        directories.Add(Path.GetDirectoryName(output)!);
        if (dependency is not null)
        {
            directories.Add(Path.GetDirectoryName(dependency)!);
        }

        // The fewest binds: a directory inside another is laid out within the outer one's copy.
        var tops = new List<string>();
        foreach (var directory in directories)
        {
            if (directory == "/" || Reserved(directory))
            {
                return InPlaceLayout.Refused($"the directory {directory} cannot be shown in the sandbox");
            }

            if (tops.Count == 0 || !directory.StartsWith(tops[^1] + "/", StringComparison.Ordinal) && directory != tops[^1])
            {
                tops.Add(directory);
            }
        }

        if (tops.Count > MaxLayoutDirectories)
        {
            return InPlaceLayout.Refused($"the files lie in {tops.Count} separate directory trees; at most {MaxLayoutDirectories} are laid out");
        }

        // A client directory above the job root is fine: the sandbox shows the job's copy there, which
        // hides the node's own files beneath it. One inside the job root is nonsense.
        var jobRoot = Path.TrimEndingDirectorySeparator(_options.JobRoot);
        if (tops.Exists(top => top == jobRoot || top.StartsWith(jobRoot + "/", StringComparison.Ordinal)))
        {
            return InPlaceLayout.Refused("the client's paths lie inside this node's job directories");
        }

        return new InPlaceLayout(null, shipped, named, cwd, tops, directories, output, dependency, shippedBytes);
    }

    /// <summary>
    /// The first file a make dependency list names that the job did not, or null. Names are taken as
    /// gcc writes them (<c>\ </c> for a space, <c>$$</c> for a dollar, a backslash at a line's end to go on),
    /// relative ones against the working directory; targets before each colon are skipped.
    /// </summary>
    private static string? UnnamedFile(string dependencies, InPlaceLayout layout)
    {
        foreach (var name in MakeDependencies(dependencies))
        {
            var path = Normalize(name.StartsWith('/') ? name : layout.WorkingDirectory + "/" + name);
            if (path is null || !layout.Named.Contains(path))
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>The prerequisites of every rule in a make dependency file as gcc writes one.</summary>
    internal static List<string> MakeDependencies(string text)
    {
        var names = new List<string>();
        var word = new System.Text.StringBuilder();
        var inPrerequisites = false;
        for (var i = 0; i <= text.Length; i++)
        {
            var c = i < text.Length ? text[i] : '\n';
            if (c == '\\' && i + 1 < text.Length && text[i + 1] is ' ' or '#' or '\\')
            {
                word.Append(text[++i]);
                continue;
            }

            if (c == '\\' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                // A continuation: the rule goes on on the next line.
                i++;
                End();
                continue;
            }

            if (c == '$' && i + 1 < text.Length && text[i + 1] == '$')
            {
                word.Append('$');
                i++;
                continue;
            }

            if (c == ':' && !inPrerequisites && (i + 1 >= text.Length || text[i + 1] is ' ' or '\t' or '\n' or '\r'))
            {
                // The targets end here (one colon followed by blank; a drive letter never appears on Linux).
                word.Clear();
                inPrerequisites = true;
                continue;
            }

            if (c is ' ' or '\t' or '\r')
            {
                End();
                continue;
            }

            if (c == '\n')
            {
                End();
                inPrerequisites = false;
                continue;
            }

            word.Append(c);
        }

        return names;

        void End()
        {
            if (word.Length > 0 && inPrerequisites)
            {
                names.Add(word.ToString());
            }

            if (inPrerequisites)
            {
                word.Clear();
            }
        }
    }

    /// <summary>An absolute path with no empty, "." or ".." components left (".." taken lexically, as the sandbox lays paths out), or null.</summary>
    private static string? Normalize(string path)
    {
        if (!path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal) || path.Length > 4096)
        {
            return null;
        }

        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    return null;
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return "/" + string.Join('/', parts);
    }

    private static bool Reserved(string path) =>
        Array.Exists(s_reservedRoots, root => path == root || path.StartsWith(root + "/", StringComparison.Ordinal));

    /// <summary>The digest of this node's own file at <paramref name="path"/> (a regular file, links followed), or null.</summary>
    private Digest? SystemDigest(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return null;
            }

            var modified = info.LastWriteTimeUtc;
            if (_systemDigests.TryGetValue(path, out var known) && known.Length == info.Length && known.Modified == modified)
            {
                return known.Digest;
            }

            var digest = Digest.FromBytes(File.ReadAllBytes(path));
            if (_systemDigests.Count < 100_000)
            {
                _systemDigests[path] = (info.Length, modified, digest);
            }

            return digest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
