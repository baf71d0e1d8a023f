using System.Diagnostics;

namespace Kiln.Cli.Cc;

/// <summary><c>kiln cc [COMPILER] ARGS...</c>: the compiler wrapper.</summary>
internal static class CcCommand
{
    /// <summary>Runs <c>kiln cc</c> with the words after "cc".</summary>
    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("kiln cc: usage: kiln cc [COMPILER] ARGS... (for example: kiln cc gcc -c hello.c)");
            return 2;
        }

        // As distcc does: "kiln cc -c x.c" means the default compiler, cc.
        var implicitCompiler = args[0].StartsWith('-') || Kiln.Core.Compile.SourceLanguages.FromFileName(args[0]) != Kiln.Core.Compile.SourceLanguage.Unknown;
        var compiler = implicitCompiler ? "cc" : args[0];
        var rest = implicitCompiler ? args : args[1..];
        return Compile(compiler, rest);
    }

    /// <summary>Runs as a masquerade symlink named <paramref name="invokedAs"/>.</summary>
    public static int RunMasqueraded(string invokedAs, string[] args) => Compile(invokedAs, args);

    private static int Compile(string compiler, string[] args)
    {
        var real = Masquerade.FindRealCompiler(compiler);
        if (real is null)
        {
            Console.Error.WriteLine($"kiln cc: compiler '{compiler}' not found on PATH");
            return 127;
        }

        return RunLocally(real, args);
    }

    /// <summary>Runs the real compiler here with the caller's standard streams.</summary>
    public static int RunLocally(string compilerPath, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(compilerPath) { UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        process.WaitForExit();
        return process.ExitCode;
    }
}
