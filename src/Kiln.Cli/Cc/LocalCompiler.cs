using System.ComponentModel;
using System.Diagnostics;
using Kiln.Core.Processes;

namespace Kiln.Cli.Cc;

/// <summary>Runs the real compiler on this machine.</summary>
internal static class LocalCompiler
{
    /// <summary>The exit status a shell gives for a program it cannot run.</summary>
    public const int CannotRun = 127;

    /// <summary>
    /// Runs the compiler with the caller's exact arguments and standard streams (inherited when the
    /// console is this process's own) and returns its exit code.
    /// </summary>
    public static async Task<int> RunAsync(string compilerPath, IReadOnlyList<string> arguments, string workingDirectory,
        CompilerConsole console, CancellationToken cancellationToken)
    {
        var redirect = !console.IsProcessConsole;
        using var process = Start(compilerPath, arguments, workingDirectory, redirect, redirect, console);
        if (process is null)
        {
            return CannotRun;
        }

        if (!redirect)
        {
            // The common case (a link, localhost, a fallback): a plain wait needs no thread-pool thread,
            // which is measurable at once per compile.
            process.WaitForExit();
            return process.ExitCode;
        }

        var stdout = process.StandardOutput.BaseStream.CopyToAsync(console.Stdout, cancellationToken);
        var stderr = process.StandardError.BaseStream.CopyToAsync(console.Stderr, cancellationToken);
        await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return process.ExitCode;
    }

    /// <summary>
    /// Runs the compiler and captures both of its output streams. On Linux it runs on this thread
    /// through <see cref="PosixSpawn"/> (no thread-pool or signal threads in a process that lives for
    /// one compile); where that cannot start it, through <see cref="Process"/>, which also reports why.
    /// </summary>
    public static async Task<CompilerRun> CaptureAsync(string compilerPath, IReadOnlyList<string> arguments, string workingDirectory,
        CompilerConsole console, CancellationToken cancellationToken)
    {
        if (PosixSpawn.IsSupported && PosixSpawn.Capture(compilerPath, arguments, workingDirectory) is { } captured)
        {
            return new CompilerRun(captured.ExitCode, captured.Stdout, captured.Stderr);
        }

        using var process = Start(compilerPath, arguments, workingDirectory, redirectStdout: true, redirectStderr: true, console);
        if (process is null)
        {
            return new CompilerRun(CannotRun, ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty);
        }

        // Preprocessed C++ runs to megabytes; start big enough that most files need no regrowth.
        using var stdout = new MemoryStream(256 * 1024);
        using var stderr = new MemoryStream();
        var readOut = process.StandardOutput.BaseStream.CopyToAsync(stdout, cancellationToken);
        var readErr = process.StandardError.BaseStream.CopyToAsync(stderr, cancellationToken);
        await Task.WhenAll(readOut, readErr).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return new CompilerRun(process.ExitCode, new ReadOnlyMemory<byte>(stdout.GetBuffer(), 0, (int)stdout.Length), stderr.ToArray());
    }

    private static Process? Start(string compilerPath, IReadOnlyList<string> arguments, string workingDirectory,
        bool redirectStdout, bool redirectStderr, CompilerConsole console)
    {
        var info = new ProcessStartInfo(compilerPath)
        {
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = redirectStdout,
            RedirectStandardError = redirectStderr,
        };
        for (var i = 0; i < arguments.Count; i++)
        {
            info.ArgumentList.Add(arguments[i]);
        }

        try
        {
            return Process.Start(info);
        }
        catch (Win32Exception e)
        {
            console.Say($"kiln cc: cannot run {compilerPath}: {e.Message}");
            return null;
        }
    }
}
