using System.Runtime.InteropServices;

namespace Kiln.Cli;

/// <summary>
/// How <c>kiln</c> (Kiln.Front, the compile path's small program) runs every other command: it execs
/// <c>kiln-full</c> from its own directory with the same arguments, in the same process, so a
/// supervisor's signals and the exit code reach the command as if <c>kiln</c> had run it.
/// </summary>
internal static partial class FullProgram
{
    /// <summary>The file name of the whole program, beside <c>kiln</c>.</summary>
    public const string FileName = "kiln-full";

    /// <summary>The whole program: this one when it is <c>kiln-full</c>, else <c>kiln-full</c> beside it; null when there is none.</summary>
    public static string? PathOf()
    {
        var self = Environment.ProcessPath;
        if (self is null)
        {
            return null;
        }

        var full = Path.GetFileName(self) == FileName ? self : Path.Combine(Path.GetDirectoryName(self) ?? "/", FileName);
        return File.Exists(full) ? full : null;
    }

    /// <summary>Replaces this process with <c>kiln-full ARGS</c>; returns only when that fails, with the exit code to use.</summary>
    public static int Exec(string[] args)
    {
        var self = Environment.ProcessPath;
        var full = PathOf();
        if (full is null)
        {
            Console.Error.WriteLine($"kiln: '{args[0]}' runs in {FileName}, which is not beside {self ?? "this program"}; " +
                "scripts/setup builds and publishes both (artifacts/bin/kiln and artifacts/bin/kiln-full)");
            return 2;
        }

        var argv = new string?[args.Length + 2];
        argv[0] = full;
        args.CopyTo(argv, 1);
        Execv(full, argv);
        Console.Error.WriteLine($"kiln: could not run {full}: {Marshal.GetLastPInvokeErrorMessage()}");
        return 2;
    }

    [LibraryImport("libc.so.6", EntryPoint = "execv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Execv(string path, string?[] argv);
}
