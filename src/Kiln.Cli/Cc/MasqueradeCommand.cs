namespace Kiln.Cli.Cc;

/// <summary><c>kiln masquerade DIR</c>: creates compiler-named symlinks to kiln in DIR.</summary>
internal static class MasqueradeCommand
{
    /// <summary>Runs the command with the words after "masquerade".</summary>
    public static int Run(string[] args)
    {
        if (args.Length != 1 || args[0].StartsWith('-'))
        {
            Console.Error.WriteLine("kiln masquerade: usage: kiln masquerade DIR (then put DIR first on PATH)");
            return 2;
        }

        var kiln = Environment.ProcessPath;
        if (kiln is null)
        {
            Console.Error.WriteLine("kiln masquerade: cannot tell where the kiln program is");
            return 1;
        }

        var directory = Path.GetFullPath(args[0]);
        try
        {
            var lines = Masquerade.CreateLinks(directory, Path.GetFullPath(kiln), out var allDone);
            foreach (var line in lines)
            {
                Console.Out.WriteLine("kiln masquerade: " + line);
            }

            Console.Out.WriteLine($"kiln masquerade: put {directory} first on PATH to compile through kiln (the real compilers are found further along PATH)");
            return allDone ? 0 : 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kiln masquerade: {directory}: {e.Message}");
            return 1;
        }
    }
}
