namespace Kiln.Cli.Cc;

/// <summary>
/// Where a compile's standard output and error go. When <see cref="IsProcessConsole"/> is true the
/// streams are this process's own descriptors 1 and 2, and a local compiler inherits them directly
/// (so it sees the same terminal and colours its diagnostics as it would without Kiln); otherwise
/// (tests, in-process use) the compiler's output is captured and copied into the streams.
/// </summary>
internal sealed class CompilerConsole
{
    /// <summary>Creates a console over two streams.</summary>
    public CompilerConsole(Stream stdout, Stream stderr, bool isProcessConsole)
    {
        Stdout = stdout;
        Stderr = stderr;
        IsProcessConsole = isProcessConsole;
    }

    /// <summary>The compile's standard output.</summary>
    public Stream Stdout { get; }

    /// <summary>The compile's standard error, where Kiln's own messages go too.</summary>
    public Stream Stderr { get; }

    /// <summary>True when the streams are this process's descriptors 1 and 2.</summary>
    public bool IsProcessConsole { get; }

    /// <summary>This process's own standard output and error, unbuffered.</summary>
    public static CompilerConsole Process() =>
        new(Console.OpenStandardOutput(), Console.OpenStandardError(), isProcessConsole: true);

    /// <summary>
    /// Writes one line of Kiln's own to standard error in a single write, so that lines from the
    /// concurrent processes of a parallel build do not interleave.
    /// </summary>
    public void Say(string line)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        Stderr.Write(bytes, 0, bytes.Length);
        Stderr.Flush();
    }
}
