using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;

namespace Kiln.Cli.Cc;

/// <summary><c>kiln cc [COMPILER] ARGS...</c>: the compiler wrapper, a thin shell around <see cref="CompileDriver"/>.</summary>
internal static class CcCommand
{
    /// <summary>Runs <c>kiln cc</c> with the words after "cc".</summary>
    public static Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("kiln cc: usage: kiln cc [COMPILER] ARGS... (for example: kiln cc gcc -c hello.c)");
            return Task.FromResult(2);
        }

        // As distcc does: "kiln cc -c x.c" means the default compiler, cc.
        var implicitCompiler = args[0].StartsWith('-') || SourceLanguages.FromFileName(args[0]) != SourceLanguage.Unknown;
        var compiler = implicitCompiler ? "cc" : args[0];
        var rest = implicitCompiler ? args : args[1..];
        return CompileAsync(compiler, rest);
    }

    /// <summary>Runs as a masquerade symlink named <paramref name="invokedAs"/>.</summary>
    public static Task<int> RunMasqueradedAsync(string invokedAs, string[] args) => CompileAsync(invokedAs, args);

    private static async Task<int> CompileAsync(string compiler, string[] args)
    {
        var real = Masquerade.FindRealCompiler(compiler);
        if (real is null)
        {
            Console.Error.WriteLine($"kiln cc: compiler '{compiler}' not found on PATH (masquerade links to kiln are skipped)");
            return LocalCompiler.CannotRun;
        }

        var settings = CcSettings.FromEnvironment(Environment.GetEnvironmentVariable, Environment.CurrentDirectory);
        PhaseTrace.Mark("cc", "settings");
        var driver = new CompileDriver(settings, RemoteClients.For, CompilerConsole.Process(), RemoteClients.Handshake);
        return await driver.RunAsync(compiler, real, args, CancellationToken.None).ConfigureAwait(false);
    }
}
