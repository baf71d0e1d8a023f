namespace Kiln.Server.Accounting;

/// <summary>
/// One job a node saw, as it is kept and sent to the collector. Times are whole milliseconds so that
/// totals and sums of records agree exactly. <see cref="ExitCode"/> is null for a job that did not
/// run; <see cref="Refusal"/> then says why (Busy, CompilerNotAllowed, ArgumentRefused, TooLarge,
/// UnsupportedLanguage, NotDistributable, AddressNotAllowed, NodeFailure).
/// </summary>
public sealed record JobRecord
{
    /// <summary>The node that ran (or refused) the job.</summary>
    public required string Node { get; init; }

    /// <summary>The job's number on its node (unique per node, increasing).</summary>
    public required long Id { get; init; }

    /// <summary>When the job arrived, in milliseconds since 1970 (UTC).</summary>
    public required long StartedMs { get; init; }

    /// <summary>Who asked: the identity the client gave, else its address.</summary>
    public required string Identity { get; init; }

    /// <summary>The client's IP address.</summary>
    public string Address { get; init; } = "";

    /// <summary>The front end that received the job: kiln, distcc.</summary>
    public string FrontEnd { get; init; } = "";

    /// <summary>The job's ActionKey in hex, or empty when the client sent none.</summary>
    public string ActionKey { get; init; } = "";

    /// <summary>The compiler the client named.</summary>
    public string Compiler { get; init; } = "";

    /// <summary>The source file the client compiled.</summary>
    public string Source { get; init; } = "";

    /// <summary>Bytes of input received.</summary>
    public long BytesIn { get; init; }

    /// <summary>Bytes of output sent (object, stdout, stderr).</summary>
    public long BytesOut { get; init; }

    /// <summary>Milliseconds the job waited for a slot.</summary>
    public long QueueMs { get; init; }

    /// <summary>CPU milliseconds of the compiler and its children.</summary>
    public long CpuMs { get; init; }

    /// <summary>Milliseconds from arrival to answer.</summary>
    public long WallMs { get; init; }

    /// <summary>hit, miss, or empty when the job did not ask the cache.</summary>
    public string Cache { get; init; } = "";

    /// <summary>The node a hit came from, or empty.</summary>
    public string CacheFrom { get; init; } = "";

    /// <summary>The compiler's exit code, or null when it did not run.</summary>
    public int? ExitCode { get; init; }

    /// <summary>Why the job did not run, or empty.</summary>
    public string Refusal { get; init; } = "";
}
