using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;

namespace Kiln.Core.Remote;

/// <summary>What <c>kiln cc</c> asks a host to compile.</summary>
public sealed record RemoteCompileRequest
{
    /// <summary>The compiler name to ask the node for (gcc, g++, clang…; never a path).</summary>
    public required string Compiler { get; init; }

    /// <summary>The arguments from <see cref="CompileCommand.RemoteArguments"/>.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The language of <see cref="Preprocessed"/> (a preprocessed language).</summary>
    public required SourceLanguage Language { get; init; }

    /// <summary>The preprocessed source.</summary>
    public required ReadOnlyMemory<byte> Preprocessed { get; init; }

    /// <summary>The source file as the user named it (distcc puts it in argv; logs show it).</summary>
    public required string SourceName { get; init; }

    /// <summary>The object file as the user named it (distcc puts it in argv).</summary>
    public required string OutputName { get; init; }

    /// <summary>The client's working directory.</summary>
    public string WorkingDirectory { get; init; } = "";

    /// <summary>The client's locale variables (see <see cref="CompileJob.LocaleVariables"/>).</summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = new Dictionary<string, string>();

    /// <summary>The compile's ActionKey as the client computed it (<see cref="ActionKey.None"/> when it did not).</summary>
    public ActionKey ActionKey { get; init; }

    /// <summary>The digest of <see cref="Preprocessed"/> when the caller already computed it.</summary>
    public Digest? PreprocessedDigest { get; init; }

    /// <summary>
    /// Work of the caller's to do while the node compiles: a client that can runs it on the caller's
    /// thread once the job is sent and before it waits for the reply (a retry on a new connection may
    /// run it again; it must be idempotent and must not throw). Clients that cannot ignore it, so the
    /// caller still does whatever of it did not run.
    /// </summary>
    public Action? WhileCompiling { get; init; }
}

/// <summary>How a remote compile attempt ended.</summary>
public enum RemoteStatus
{
    /// <summary>The compiler ran on the host; <see cref="RemoteCompileReply.Outcome"/> holds what it produced (any exit code).</summary>
    Completed,

    /// <summary>The host has no free slot now; try another host. The host is healthy.</summary>
    Busy,

    /// <summary>The host will not run this job (compiler not allowed, argument refused); the host is healthy.</summary>
    Refused,

    /// <summary>The host could not be reached or broke the protocol; back it off and try another.</summary>
    Failed,
}

/// <summary>The reply to one remote compile attempt.</summary>
public sealed record RemoteCompileReply(RemoteStatus Status, CompileOutcome? Outcome, string? Message)
{
    /// <summary>True when the node answered from its result cache rather than compiling (Kiln protocol only).</summary>
    public bool FromCache { get; init; }

    /// <summary>A failure with a message that names the host and what went wrong.</summary>
    public static RemoteCompileReply Fail(string message) => new(RemoteStatus.Failed, null, message);
}

/// <summary>A client for one protocol (Kiln or distcc) that sends a compile to a host.</summary>
public interface IRemoteCompileClient
{
    /// <summary>Sends the compile to <paramref name="host"/> and waits for its reply. Never throws for network failures.</summary>
    Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Starts getting ready for a job to <paramref name="host"/> without waiting (connecting, for the
    /// Kiln protocol), so the connection is made while the caller preprocesses, as distcc connects
    /// while its cpp runs. The next <see cref="CompileAsync"/> to the host uses it. Doing nothing is
    /// correct: the job then connects itself.
    /// </summary>
    void Prepare(HostSpec host)
    {
    }

    /// <summary>
    /// Sends <paramref name="job"/> (its <see cref="RemoteCompileRequest.Preprocessed"/> not made yet)
    /// ahead of its input, so the node can start the compiler while the caller preprocesses. True when
    /// sent: the next <see cref="CompileAsync"/> to the host then sends only the input, and the caller
    /// calls it or <see cref="Abandon"/>. False (the default) when the client or host cannot: the job is
    /// sent whole as usual.
    /// </summary>
    bool SendAhead(HostSpec host, RemoteCompileRequest job) => false;

    /// <summary>Takes back a job <see cref="SendAhead"/> sent: the node stops whatever it started for it.</summary>
    void Abandon(HostSpec host)
    {
    }
}
