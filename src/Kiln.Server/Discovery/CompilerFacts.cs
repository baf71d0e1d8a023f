using System.Diagnostics;
using Kiln.Core.Compile;

namespace Kiln.Server.Discovery;

/// <summary>
/// What a node tells browsers about its compilers: the default gcc's <c>-dumpmachine</c> and
/// <c>-dumpversion</c>, and the target triples it can compile for (the default machine plus every
/// <c>TRIPLE-gcc</c> cross compiler on PATH).
/// </summary>
public sealed record CompilerFacts(string Machine, string Version, IReadOnlyList<string> Targets)
{
    /// <summary>Every compiler the node runs, as <see cref="CompilerPlatform"/>s (family, triple, version).</summary>
    public IReadOnlyList<CompilerPlatform> Compilers { get; init; } = [];

    /// <summary>
    /// Probes what a node can run: gcc, clang (also with <c>-m32</c>, which changes clang's triple) and
    /// every <c>TRIPLE-gcc</c> cross compiler in <paramref name="directories"/>, the node's compiler
    /// allow-list directories, so it advertises exactly the compilers it will run.
    /// </summary>
    public static async Task<CompilerFacts> ProbeNodeAsync(IReadOnlyList<string> directories, CancellationToken cancellationToken)
    {
        string? Find(string name) => directories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

        var probes = new List<Task<CompilerPlatform?>>();
        string? machine = null, version = null;
        if (Find("gcc") is { } gcc)
        {
            machine = await FirstLineAsync(gcc, "-dumpmachine", cancellationToken).ConfigureAwait(false);
            version = await FirstLineAsync(gcc, "-dumpversion", cancellationToken).ConfigureAwait(false);
        }

        if (Find("clang") is { } clang)
        {
            probes.Add(PlatformAsync("clang", clang, null, cancellationToken));
            probes.Add(PlatformAsync("clang", clang, "-m32", cancellationToken));
        }

        var crosses = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var dir in directories)
        {
            string[] names;
            try
            {
                names = Directory.GetFiles(dir, "*-gcc*");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var path in names)
            {
                // One probe per triple: x86_64-linux-gnu-gcc and x86_64-linux-gnu-gcc-12 are one compiler.
                if (CrossTriple(Path.GetFileName(path)) is { } triple && crosses.Add(triple) && Find(triple + "-gcc") is { } cross)
                {
                    probes.Add(PlatformAsync("gcc", cross, null, cancellationToken));
                }
            }
        }

        var platforms = new SortedSet<string>(StringComparer.Ordinal);
        var compilers = new List<CompilerPlatform>();
        if (machine is not null && version is not null)
        {
            var native = CompilerPlatform.Of("gcc", machine, version);
            platforms.Add(native.ToString());
            compilers.Add(native);
        }

        foreach (var platform in await Task.WhenAll(probes).ConfigureAwait(false))
        {
            if (platform is not null && platforms.Add(platform.ToString()))
            {
                compilers.Add(platform);
            }
        }

        var targets = new SortedSet<string>(StringComparer.Ordinal);
        if (machine is not null)
        {
            targets.Add(machine);
        }

        foreach (var triple in crosses)
        {
            targets.Add(triple);
        }

        return new CompilerFacts(machine ?? "unknown", version ?? "unknown", [.. targets]) { Compilers = compilers };
    }

    private static async Task<CompilerPlatform?> PlatformAsync(string family, string path, string? option, CancellationToken cancellationToken)
    {
        var machine = await FirstLineAsync(path, option is null ? ["-dumpmachine"] : [option, "-dumpmachine"], cancellationToken).ConfigureAwait(false);
        var version = await FirstLineAsync(path, ["-dumpversion"], cancellationToken).ConfigureAwait(false);
        return machine is null || version is null ? null : CompilerPlatform.Of(family, machine, version);
    }

    /// <summary>Facts for a node without a usable gcc.</summary>
    public static readonly CompilerFacts None = new("unknown", "unknown", []);

    /// <summary>Runs <paramref name="compiler"/> (default gcc) and scans PATH; <see cref="None"/> when gcc does not run.</summary>
    public static async Task<CompilerFacts> ProbeAsync(string compiler, CancellationToken cancellationToken)
    {
        var machine = await FirstLineAsync(compiler, "-dumpmachine", cancellationToken).ConfigureAwait(false);
        var version = await FirstLineAsync(compiler, "-dumpversion", cancellationToken).ConfigureAwait(false);
        if (machine is null || version is null)
        {
            return None;
        }

        var targets = new SortedSet<string>(StringComparer.Ordinal) { machine };
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] names;
            try
            {
                names = Directory.GetFiles(dir, "*-gcc*");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var path in names)
            {
                if (CrossTriple(Path.GetFileName(path)) is { } triple)
                {
                    targets.Add(triple);
                }
            }
        }

        return new CompilerFacts(machine, version, [.. targets]);
    }

    /// <summary>The triple of a cross compiler's file name: <c>aarch64-linux-gnu-gcc-12</c> → <c>aarch64-linux-gnu</c>; null for other files.</summary>
    public static string? CrossTriple(string fileName)
    {
        var at = fileName.LastIndexOf("-gcc", StringComparison.Ordinal);
        if (at <= 0)
        {
            return null;
        }

        var rest = fileName[(at + "-gcc".Length)..];
        if (rest.Length > 0 && !(rest[0] == '-' && rest.Length > 1 && rest[1..].All(c => char.IsAsciiDigit(c) || c == '.')))
        {
            return null;
        }

        var triple = fileName[..at];
        return triple.Count(c => c == '-') >= 2 && triple.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? triple : null;
    }

    private static Task<string?> FirstLineAsync(string program, string argument, CancellationToken cancellationToken) =>
        FirstLineAsync(program, [argument], cancellationToken);

    private static async Task<string?> FirstLineAsync(string program, string[] arguments, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        try
        {
            using var process = Process.Start(info);
            if (process is null)
            {
                return null;
            }

            var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            var line = output.Split('\n')[0].Trim();
            return process.ExitCode == 0 && line.Length > 0 ? line : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
