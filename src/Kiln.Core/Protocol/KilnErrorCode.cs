namespace Kiln.Core.Protocol;

/// <summary>
/// Codes carried by ERROR frames. Codes below 100 are connection errors: the server closes the
/// connection after sending them. Codes from 100 are job errors: the job ends and the connection
/// stays usable for the next job.
/// </summary>
public enum KilnErrorCode : ushort
{
    /// <summary>A frame's payload does not follow its layout (short, trailing bytes, bad UTF-8, reserved bits set).</summary>
    MalformedFrame = 1,

    /// <summary>A frame header announces more bytes than the receiver accepts for that frame type.</summary>
    FrameTooLarge = 2,

    /// <summary>The frame type byte is not one this version knows.</summary>
    UnknownFrameType = 3,

    /// <summary>HELLO does not start with the magic "KILN": the peer does not speak the Kiln protocol.</summary>
    BadMagic = 4,

    /// <summary>The client's version range and the server's share no version.</summary>
    UnsupportedVersion = 5,

    /// <summary>A frame arrived in a state that does not expect it (JOB before HELLO, INPUT without JOB).</summary>
    UnexpectedFrame = 6,

    /// <summary>The peer sent nothing for longer than the server waits.</summary>
    ReadTimeout = 7,

    /// <summary>The job's input is longer or shorter than the size JOB announced.</summary>
    InputSizeMismatch = 8,

    /// <summary>The node does not know who the client is: no credentials, or a token or certificate it does not accept.</summary>
    Unauthorized = 9,

    /// <summary>The compiler is not on the node's allow-list or not installed there.</summary>
    CompilerNotAllowed = 100,

    /// <summary>An argument loads code, runs a program or names a path on the node.</summary>
    ArgumentRefused = 101,

    /// <summary>The input or the output is larger than the node accepts.</summary>
    TooLarge = 102,

    /// <summary>The node could not run the job for a reason of its own (disk, process start, killed).</summary>
    NodeFailure = 103,

    /// <summary>The job's input language is not one the node compiles.</summary>
    UnsupportedLanguage = 104,

    /// <summary>The input's SHA-256 differs from the digest JOB announced.</summary>
    InputDigestMismatch = 105,

    /// <summary>The client's identity is known but its role does not allow the job (compiling needs execute).</summary>
    Forbidden = 106,

    /// <summary>FETCH named a key the node has no result for (evicted, or refused by the trust policy): the client compiles.</summary>
    NotCached = 107,

    /// <summary>
    /// PREPROCESS could not run as asked (a file under /usr differs from the node's copy or is missing
    /// there, a path the sandbox cannot show, a node without a sandbox): the client preprocesses itself.
    /// </summary>
    PreprocessRefused = 108,
}
