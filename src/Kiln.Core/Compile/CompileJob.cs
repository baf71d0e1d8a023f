namespace Kiln.Core.Compile;

/// <summary>
/// A compile a node runs: the compiler the client named, the arguments it needs besides input and
/// output (see <see cref="CompileCommand.RemoteArguments"/>), and the preprocessed source.
/// </summary>
public sealed record CompileJob
{
    /// <summary>The compiler name the client asked for (for example gcc, x86_64-linux-gnu-gcc, g++).</summary>
    public required string Compiler { get; init; }

    /// <summary>Arguments without the input, <c>-o</c> or <c>-c</c>; the node adds its own.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The language of <see cref="Input"/>: decides the input file's extension on the node.</summary>
    public required SourceLanguage Language { get; init; }

    /// <summary>The preprocessed source.</summary>
    public required ReadOnlyMemory<byte> Input { get; init; }

    /// <summary>Who asked (an identity, or the peer address when the protocol has none).</summary>
    public string Client { get; init; } = "";

    /// <summary>
    /// The identity the job counts against in the node's fair sharing (derived from the client's token);
    /// empty when the protocol has none, and then the client's address stands for the user.
    /// </summary>
    public string User { get; init; } = "";

    /// <summary>Which front end received the job (kiln, distcc).</summary>
    public string FrontEnd { get; init; } = "";

    /// <summary>The job's ActionKey in hex when the client sent one, else empty (for the job's record).</summary>
    public string ActionKey { get; init; } = "";

    /// <summary>The source file name the client compiled, for logs (not used to compile).</summary>
    public string SourceName { get; init; } = "";

    /// <summary>
    /// Locale variables of the client (LANG, LC_ALL, LC_CTYPE, LC_MESSAGES) so that diagnostics use the
    /// same words and quotes as a local compile. Empty means the C locale.
    /// </summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = s_noLocale;

    private static readonly Dictionary<string, string> s_noLocale = new(StringComparer.Ordinal);

    /// <summary>The locale variable names a job may carry.</summary>
    public static readonly string[] LocaleVariables = ["LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES"];
}

/// <summary>What a compile gave, exactly as the compiler produced it.</summary>
public sealed record CompileOutcome
{
    /// <summary>The compiler's exit code (0 on success); 128+N when killed by signal N.</summary>
    public required int ExitCode { get; init; }

    /// <summary>The compiler's standard output.</summary>
    public ReadOnlyMemory<byte> Stdout { get; init; }

    /// <summary>The compiler's standard error.</summary>
    public ReadOnlyMemory<byte> Stderr { get; init; }

    /// <summary>The object file, when the compile succeeded.</summary>
    public ReadOnlyMemory<byte> Object { get; init; }

    /// <summary>The dependency file, when the node wrote one (distcc pump mode).</summary>
    public ReadOnlyMemory<byte>? DependencyFile { get; init; }
}

/// <summary>Why a node did not run a job. Expected outcomes, not exceptions.</summary>
public enum RefusalKind
{
    /// <summary>The compiler is not on the node's allow-list or not installed.</summary>
    CompilerNotAllowed,

    /// <summary>An argument loads code, runs a program or escapes the job.</summary>
    ArgumentRefused,

    /// <summary>Every slot is taken and the queue is full.</summary>
    Busy,

    /// <summary>The input or output is larger than the node accepts.</summary>
    TooLarge,

    /// <summary>The job could not run for a reason of the node's own (disk, process start).</summary>
    NodeFailure,

    /// <summary>
    /// A compile the node was asked to preprocess itself could not be laid out as asked (a system file
    /// differs from the node's or is missing, a path the sandbox cannot show): the client preprocesses.
    /// </summary>
    PreprocessRefused,
}

/// <summary>Either an outcome or a refusal with a message a person can act on.</summary>
public readonly record struct CompileResult(CompileOutcome? Outcome, RefusalKind Refusal, string? Message)
{
    /// <summary>True when the compiler ran (whatever its exit code).</summary>
    public bool Ran => Outcome is not null;

    /// <summary>A result for a compiler that ran.</summary>
    public static CompileResult Of(CompileOutcome outcome) => new(outcome, default, null);

    /// <summary>A refusal.</summary>
    public static CompileResult Refused(RefusalKind kind, string message) => new(null, kind, message);
}
