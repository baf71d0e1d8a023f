using System.Diagnostics;

namespace Kiln.Server.Discovery;

/// <summary>
/// What a node tells browsers about its compilers: the default gcc's <c>-dumpmachine</c> and
/// <c>-dumpversion</c>, and the target triples it can compile for (the default machine plus every
/// <c>TRIPLE-gcc</c> cross compiler on PATH).
/// </summary>
public sealed record CompilerFacts(string Machine, string Version, IReadOnlyList<string> Targets)
{
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

    private static async Task<string?> FirstLineAsync(string program, string argument, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(program, argument) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
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
