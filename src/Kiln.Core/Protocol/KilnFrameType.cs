namespace Kiln.Core.Protocol;

/// <summary>The first byte of every Kiln protocol frame.</summary>
public enum KilnFrameType : byte
{
    /// <summary>Client to server, first frame: magic, versions, capabilities, token, client name.</summary>
    Hello = 0x01,

    /// <summary>Server to client, answer to HELLO: chosen version, capabilities, node name, slots.</summary>
    Welcome = 0x02,

    /// <summary>Client to server: one compile (keys, compiler, arguments, language, input size).</summary>
    Job = 0x03,

    /// <summary>Client to server: a chunk of the job's input; the LAST flag ends the input.</summary>
    Input = 0x04,

    /// <summary>Server to client: exit code, stdout, stderr and output files of a job.</summary>
    Result = 0x05,

    /// <summary>Server to client: no slot for the job now; try another node.</summary>
    Busy = 0x06,

    /// <summary>Server to client: a numeric code and a message a person can act on.</summary>
    Error = 0x07,

    /// <summary>Client to server: a manifest key; the node answers MANIFEST (remote direct mode).</summary>
    Lookup = 0x08,

    /// <summary>Server to client: the manifest entries the client's identity recorded under a key (none on a miss).</summary>
    Manifest = 0x09,

    /// <summary>Client to server: a stored result by the node's key; RESULT, or ERROR NotCached.</summary>
    Fetch = 0x0A,

    /// <summary>Client to server: a manifest entry for the job this connection just ran. No answer.</summary>
    Record = 0x0B,

    /// <summary>
    /// Client to server: a compile the node preprocesses itself, with the files it reads (remote
    /// preprocessing); answered as JOB is: RESULT, BUSY or ERROR.
    /// </summary>
    Preprocess = 0x0C,

    /// <summary>
    /// Both ways: a client asks the node to answer SYNC, with the same payload (at most 64 bytes),
    /// once every frame before it is answered. The agent (Kiln.Core.Agent) sends it when a client left
    /// between jobs, to know the connection is clean before it hands it to the next client.
    /// </summary>
    Sync = 0x0D,
}
