using Kiln.Cli.LocalCache;
using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Cli.Cc;

/// <summary>
/// The local cache's part of a compile (see docs/cache.md): direct mode first, which skips the
/// preprocessor when a manifest's files all still have their digests; then the ActionKey of the
/// preprocessed input; then the compile goes to a node or runs here, and a successful answer fills
/// the cache. Only compiles whose preprocessor printed nothing are kept: a hit then prints exactly
/// what the compile printed.
/// </summary>
internal sealed partial class CompileDriver
{
    /// <summary>A file changed this close to the compile's start may change again unseen (ccache's rule): no manifest records it.</summary>
    private static readonly TimeSpan s_tooNew = TimeSpan.FromSeconds(2);

    private readonly DateTime _started = DateTime.UtcNow;

    private CompilerIdentity? Identity(string compilerPath) =>
        new CompilerIdentityProbe(Path.Combine(_settings.StateDirectory, "compilers")).Probe(compilerPath);

    private async Task<LocalLookup> LookUpLocallyAsync(CompileCommand command, string compilerPath, CancellationToken cancellationToken)
    {
        if (_settings.LocalCacheBytes <= 0)
        {
            return LocalLookup.None;
        }

        var cache = new LocalCompileCache(Path.Combine(_settings.StateDirectory, "cache"), _settings.LocalCacheBytes, _settings.Seed);
        var identity = Identity(compilerPath);
        if (identity is null)
        {
            return LocalLookup.None;
        }

        var cwd = _settings.WorkingDirectory;
        var manifestKey = DirectMode.ManifestKey(identity, command.Arguments, cwd, CompileAction.MessagesLocaleOf(_settings.Locale), _settings.PreprocessorVariables);
        if (cache.FindDirect(manifestKey, cwd) is { } entry && (entry.DependencyFile is not null) == command.WritesDependencyFile
            && cache.TryGetResult(entry.Key) is { } direct
            && (entry.DependencyFile is null || WriteObject(Path.Combine(cwd, command.DependencyFile!), entry.DependencyFile) is null)
            && WriteObject(Path.Combine(cwd, command.Output), direct.Object) is null)
        {
            cache.Count("direct-hit");
            Verbose($"kiln: {command.Source} from the local cache (direct mode)");
            _decisions.Hit(command.Source, "the local cache", "direct mode: the headers' digests matched, no preprocessor ran");
            Write(_console.Stdout, direct.Stdout);
            Write(_console.Stderr, direct.Stderr);
            return LocalLookup.None with { ExitCode = 0 };
        }

        var cpp = await LocalCompiler.CaptureAsync(compilerPath, command.PreprocessArguments(), cwd, _console, cancellationToken).ConfigureAwait(false);
        if (cpp.ExitCode != 0)
        {
            // The full compile would stop at the same point with the same words.
            Verbose($"kiln: {command.Source} failed to preprocess here (exit {cpp.ExitCode})");
            Write(_console.Stderr, cpp.Stderr);
            return LocalLookup.None with { ExitCode = cpp.ExitCode };
        }

        var key = KeyOf(command, identity, cpp.Stdout);
        var lookup = new LocalLookup(null, cache, identity, manifestKey, cpp, key);
        if (!key.Key.IsNone && cache.TryGetResult(key.Key) is { } hit && WriteObject(Path.Combine(cwd, command.Output), hit.Object) is null)
        {
            cache.Count("preprocessed-hit");
            RecordManifest(command, lookup);
            Verbose($"kiln: {command.Source} from the local cache");
            _decisions.Hit(command.Source, "the local cache", "the preprocessed input's ActionKey");
            Write(_console.Stdout, hit.Stdout);
            Write(_console.Stderr, cpp.Stderr);
            Write(_console.Stderr, hit.Stderr);
            return lookup with { ExitCode = 0 };
        }

        cache.Count("miss");
        return lookup;
    }

    /// <summary>Runs the compile here; with a local cache its output is captured so a success can be kept.</summary>
    private async Task<int> CompileHereAsync(CompileCommand command, string compilerPath, IReadOnlyList<string> arguments, LocalLookup local,
        CancellationToken cancellationToken)
    {
        if (local.Cache is null || local.Key is null)
        {
            return await LocalCompiler.RunAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
        }

        var run = await LocalCompiler.CaptureAsync(compilerPath, arguments, _settings.WorkingDirectory, _console, cancellationToken).ConfigureAwait(false);
        Write(_console.Stdout, run.Stdout);
        Write(_console.Stderr, run.Stderr);
        if (run.ExitCode == 0)
        {
            try
            {
                var obj = await File.ReadAllBytesAsync(Path.Combine(_settings.WorkingDirectory, command.Output), cancellationToken).ConfigureAwait(false);
                StoreLocally(command, local, obj, run.Stdout, run.Stderr);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The compile succeeded; only the cache misses out.
            }
        }

        return run.ExitCode;
    }

    /// <summary>Keeps a successful compile's result under its ActionKey and records the direct-mode manifest.</summary>
    private void StoreLocally(CompileCommand command, LocalLookup local, ReadOnlyMemory<byte> obj, ReadOnlyMemory<byte> stdout, ReadOnlyMemory<byte> stderr)
    {
        if (local.Cache is null || local.Key is not { } key || key.Key.IsNone || local.Preprocessed is not { } cpp || !cpp.Stderr.IsEmpty)
        {
            return;
        }

        local.Cache.PutResult(key.Key, new CachedCompile(obj, stdout, stderr));
        RecordManifest(command, local);
    }

    /// <summary>
    /// Records which files (with their digests now) led to the ActionKey, so the next identical
    /// compile can skip the preprocessor. Nothing is recorded when a file is too new to trust, is
    /// unreadable, or uses a time macro, or when the dependency file the compile wrote is missing.
    /// </summary>
    private void RecordManifest(CompileCommand command, LocalLookup local)
    {
        if (local.Cache is null || local.ManifestKey.IsNone || local.Key is not { } key || local.Preprocessed is not { } cpp || !cpp.Stderr.IsEmpty)
        {
            return;
        }

        var cwd = _settings.WorkingDirectory;
        var files = new List<IncludedFile>();
        foreach (var name in DirectMode.IncludedFiles(cpp.Stdout.Span))
        {
            var path = Path.Combine(cwd, name);
            byte[] content;
            try
            {
                if (File.GetLastWriteTimeUtc(path) > _started - s_tooNew)
                {
                    return;
                }

                content = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;
            }

            if (DirectMode.UsesTimeMacros(content))
            {
                return;
            }

            files.Add(new IncludedFile(name, Digest.FromBytes(content)));
        }

        byte[]? dependency = null;
        if (command.WritesDependencyFile)
        {
            try
            {
                dependency = File.ReadAllBytes(Path.Combine(cwd, command.DependencyFile!));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;
            }
        }

        local.Cache.RecordDirect(local.ManifestKey, new ManifestEntry(files, key.Key, dependency));
    }
}
