namespace Kiln.Core.Protocol;

/// <summary>
/// Capability bits exchanged in HELLO and WELCOME. A peer ignores bits it does not know, so new
/// capabilities never need a new protocol version.
/// </summary>
[Flags]
public enum KilnCapabilities : uint
{
    /// <summary>Nothing beyond protocol version 1.</summary>
    None = 0,

    /// <summary>Server: runs compiles.</summary>
    Compile = 1u << 0,

    /// <summary>Server: looks jobs up by ActionKey and may answer RESULT before the input is complete.</summary>
    ResultCache = 1u << 1,

    /// <summary>
    /// Client: understands <see cref="KilnFrameFlags.FromCache"/> on RESULT. A node sets that flag only
    /// for clients whose HELLO has this bit, so older clients never see a flag they would refuse.
    /// </summary>
    ResultOrigin = 1u << 2,

    /// <summary>
    /// Server: answers LOOKUP, FETCH and RECORD (remote direct mode). A client may pipeline LOOKUP
    /// behind HELLO before it has WELCOME; a node without this bit answers ERROR UnknownFrameType,
    /// which the client takes as a miss.
    /// </summary>
    Manifests = 1u << 3,

    /// <summary>
    /// Server: runs PREPROCESS (remote preprocessing), which needs the job sandbox: each file appears
    /// at the client's own path inside it.
    /// </summary>
    RemotePreprocess = 1u << 4,

    /// <summary>
    /// Server: takes JOB flagged <see cref="KilnFrameFlags.Ahead"/>, before its input exists, and may
    /// start the compiler then, so its start overlaps the client's preprocessor. Clients learn it from
    /// an earlier WELCOME (the <c>ahead=1</c> attribute, kept with the node's facts), since the JOB goes
    /// out before this connection's WELCOME comes.
    /// </summary>
    JobAhead = 1u << 5,
}
