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
    /// <summary>
    /// ccache's rule for a file too new to record a digest of: modified at or after the compile started
    /// (it may have changed between the preprocessor's read and the hashing). A file the kernel dates a
    /// clock tick early is still caught: the preprocessor reads it several ticks after the start. (Kiln
    /// used a 2 s margin before; a header saved just before a build then never got a digest.)
    /// </summary>
    private static readonly TimeSpan s_tooNew = TimeSpan.Zero;

    private readonly DateTime _started = DateTime.UtcNow;

    /// <summary>A fresh <see cref="FileDigests"/> for this compile, with the digest cache unless it is off.</summary>
    private FileDigests NewFileDigests() =>
        new(_settings.WorkingDirectory, _settings.DigestCache ? DigestCache.Open(Path.Combine(_settings.StateDirectory, "file-digests"), _started) : null);

    private CompilerIdentity? Identity(string compilerPath) =>
        new CompilerIdentityProbe(Path.Combine(_settings.StateDirectory, "compilers")).Probe(compilerPath);

    /// <summary>
    /// Direct mode in the local cache: the manifest key, and a hit when a manifest's files all still
    /// have their digests. Without a local cache the identity and manifest key are still worked out
    /// when remote direct mode may use them.
    /// </summary>
    private LocalLookup LookUpDirectly(CompileCommand command, string compilerPath)
    {
        var cache = _settings.LocalCacheBytes > 0 ? new LocalCompileCache(Path.Combine(_settings.StateDirectory, "cache"), _settings.LocalCacheBytes, _settings.Seed) : null;
        if (cache is null && !_settings.RemoteDirect)
        {
            return LocalLookup.None;
        }

        var identity = Identity(compilerPath);
        if (identity is null)
        {
            return LocalLookup.None;
        }

        var cwd = _settings.WorkingDirectory;
        var manifestKey = DirectMode.ManifestKey(identity, command.Arguments, cwd, CompileAction.MessagesLocaleOf(_settings.Locale), _settings.PreprocessorVariables,
            _settings.BaseDirectory);
        var digests = NewFileDigests();
        if (cache?.FindDirect(manifestKey, digests) is { } entry && (entry.DependencyFile is not null) == command.WritesDependencyFile
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

        return new LocalLookup(null, cache, identity, manifestKey, null, null) { Digests = digests };
    }

    /// <summary>
    /// The local cache by ActionKey: preprocesses here and looks the preprocessed input's key up.
    /// Without a local cache nothing happens here (the compile preprocesses when it has a host).
    /// </summary>
    private async Task<LocalLookup> LookUpPreprocessedAsync(CompileCommand command, string compilerPath, LocalLookup direct, CancellationToken cancellationToken)
    {
        if (direct.Cache is not { } cache || direct.Identity is not { } identity)
        {
            return direct;
        }

        var cwd = _settings.WorkingDirectory;
        var manifestKey = direct.ManifestKey;
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
    private void StoreLocally(CompileCommand command, LocalLookup local, ReadOnlyMemory<byte> obj, ReadOnlyMemory<byte> stdout, ReadOnlyMemory<byte> stderr,
        ManifestEntry? manifest = null)
    {
        if (local.Cache is null || local.Key is not { } key || key.Key.IsNone || local.Preprocessed is not { } cpp || !cpp.Stderr.IsEmpty)
        {
            return;
        }

        local.Cache.PutResult(key.Key, new CachedCompile(obj, stdout, stderr));
        RecordManifest(command, local, manifest);
    }

    /// <summary>Records the direct-mode manifest entry of a compile in the local cache (see <see cref="ManifestOf"/>).</summary>
    private void RecordManifest(CompileCommand command, LocalLookup local, ManifestEntry? manifest = null)
    {
        if (local.Cache is not null && !local.ManifestKey.IsNone && (manifest ?? ManifestOf(command, local)) is { } entry)
        {
            local.Cache.RecordDirect(local.ManifestKey, entry);
        }
    }

    /// <summary>A digest no file has (an all-zero SHA-256 of an empty file), for files too new to trust.</summary>
    private static readonly Digest s_unknownDigest = Digest.FromHash(new byte[Digest.HashLength], 0);

    /// <summary>
    /// Which files (with their digests now) led to the compile's ActionKey, so the next identical
    /// compile can skip the preprocessor. A file too new to trust gets a digest no file has (the entry
    /// then only lists the files, for remote preprocessing). Null when a file is unreadable or uses a
    /// time macro, when the preprocessor printed anything, or when the dependency file the compile
    /// wrote is missing.
    /// </summary>

    private ManifestEntry? ManifestOf(CompileCommand command, LocalLookup local)
    {
        if (local.ManifestKey.IsNone || local.Key is not { } key || key.Key.IsNone || local.Preprocessed is not { } cpp || !cpp.Stderr.IsEmpty)
        {
            return null;
        }

        var cwd = _settings.WorkingDirectory;
        var files = new List<IncludedFile>();
        var digests = local.Digests ?? NewFileDigests();
        var baseDirectory = _settings.BaseDirectory is { Length: > 0 } b && Path.IsPathRooted(b) ? b : null;
        foreach (var name in DirectMode.IncludedFiles(cpp.Stdout.Span))
        {
            if (baseDirectory is not null && Path.IsPathRooted(name) && BaseDirectoryRewriter.IsUnder(name, baseDirectory))
            {
                // A file of this checkout named by its absolute path: the entry would tie every
                // checkout sharing the manifest key to this one's files.
                return null;
            }

            var path = Path.Combine(cwd, name);
            try
            {
                if (File.GetLastWriteTimeUtc(path) >= _started - s_tooNew)
                {
                    // It may have changed after the preprocessor read it, so no digest of it can be
                    // trusted: the entry names it with one no file has. The entry never matches, and
                    // still tells remote preprocessing which files this compile reads.
                    files.Add(new IncludedFile(name, s_unknownDigest));
                    continue;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }

            var facts = digests.Read(name);
            if (facts.Digest is not { } digest || facts.UsesTimeMacros)
            {
                return null;
            }

            files.Add(new IncludedFile(name, digest));
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
                return null;
            }
        }

        return new ManifestEntry(files, key.Key, dependency);
    }
}
