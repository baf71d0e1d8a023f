using System.Diagnostics;

namespace Kiln.Tests.TestKit;

/// <summary>Runs external programs (gcc, distcc, the kiln binary) and finds the kiln binary.</summary>
public static class Tools
{
    /// <summary>
    /// The kiln program: $KILN_BIN, else the published artifacts/bin/kiln, else the JIT build copied
    /// beside the tests (a net9.0 apphost that rolls forward to the installed runtime).
    /// </summary>
    public static string KilnBinary
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("KILN_BIN");
            if (!string.IsNullOrEmpty(env))
            {
                return env;
            }

            var published = Path.Combine(RepositoryRoot, "artifacts", "bin", "kiln");
            if (File.Exists(published))
            {
                return published;
            }

            return Path.Combine(AppContext.BaseDirectory, "kiln");
        }
    }

    public static string RepositoryRoot
    {
        get
        {
            var dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "Kiln.slnx")))
            {
                dir = Path.GetDirectoryName(dir);
            }

            return dir ?? throw new InvalidOperationException("Kiln.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    public static bool Exists(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, program)));

    public sealed record Run(int ExitCode, string Stdout, string Stderr);

    public static async Task<Run> RunAsync(string program, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null)
                {
                    info.Environment.Remove(k);
                }
                else
                {
                    info.Environment[k] = v;
                }
            }
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in time");
        }

        return new Run(process.ExitCode, await stdout, await stderr);
    }
}
