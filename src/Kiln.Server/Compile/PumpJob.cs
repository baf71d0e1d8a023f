namespace Kiln.Server.Compile;

/// <summary>
/// A distcc pump-mode (protocol 3) compile: the client's unpreprocessed command line, its working
/// directory and every non-system file the compile reads, which the node recreates under a fake
/// root, preprocesses and compiles there.
/// </summary>
public sealed record PumpJob
{
    /// <summary>The compiler name the client asked for (argv[0]).</summary>
    public required string Compiler { get; init; }

    /// <summary>The client's arguments after the compiler, unstripped (-I, -D, -MD, the source, -o).</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The client's working directory (CDIR), absolute.</summary>
    public required string ClientDirectory { get; init; }

    /// <summary>The files and links the client sent.</summary>
    public required IReadOnlyList<PumpFile> Files { get; init; }

    /// <summary>Who asked (the peer address).</summary>
    public string Client { get; init; } = "";

    /// <summary>The locale the compiler runs with (empty: the C locale).</summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = new Dictionary<string, string>();
}
