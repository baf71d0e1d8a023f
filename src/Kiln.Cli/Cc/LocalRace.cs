using System.Diagnostics;
using System.Globalization;
using Kiln.Core.Compile;

namespace Kiln.Cli.Cc;

/// <summary>
/// The local side of a straggler race: compiles the already preprocessed source here exactly as a node
/// does (the same arguments, an input named <c>input.i</c> in a directory of its own, <c>-o output.o</c>),
/// so whichever side wins gives the same object. Cancelling kills the compiler.
/// </summary>
internal static class LocalRace
{
    /// <summary>Compiles and returns what the compiler produced; the object is empty when it failed.</summary>
    public static async Task<CompileOutcome> CompileAsync(string compilerPath, IReadOnlyList<string> remoteArguments, SourceLanguage preprocessedLanguage,
        ReadOnlyMemory<byte> preprocessed, string stateDirectory, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(stateDirectory, "race", Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        try
        {
            var input = "input" + preprocessedLanguage.PreprocessedExtension();
            await File.WriteAllBytesAsync(Path.Combine(directory, input), preprocessed, cancellationToken).ConfigureAwait(false);
            var info = new ProcessStartInfo(compilerPath)
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in remoteArguments)
            {
                info.ArgumentList.Add(a);
            }

            foreach (var a in (ReadOnlySpan<string>)["-c", input, "-o", "output.o"])
            {
                info.ArgumentList.Add(a);
            }

            using var process = Process.Start(info)!;
            using var kill = cancellationToken.Register(() =>
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
            });
            using var stdout = new MemoryStream();
            using var stderr = new MemoryStream();
            var reads = Task.WhenAll(
                process.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None),
                process.StandardError.BaseStream.CopyToAsync(stderr, CancellationToken.None));
            await reads.ConfigureAwait(false);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var output = Path.Combine(directory, "output.o");
            var obj = process.ExitCode == 0 && File.Exists(output) ? await File.ReadAllBytesAsync(output, CancellationToken.None).ConfigureAwait(false) : [];
            return new CompileOutcome
            {
                ExitCode = process.ExitCode,
                Stdout = stdout.ToArray(),
                Stderr = stderr.ToArray(),
                Object = obj,
            };
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
