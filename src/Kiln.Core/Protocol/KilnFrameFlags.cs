namespace Kiln.Core.Protocol;

/// <summary>
/// The second byte of a frame header: <see cref="Last"/> and <see cref="Abandon"/> on INPUT,
/// <see cref="FromCache"/> on RESULT for clients that announced <see cref="KilnCapabilities.ResultOrigin"/>,
/// <see cref="WithResult"/> on LOOKUP and MANIFEST, and <see cref="Ahead"/> on JOB. Any other flag is malformed.
/// </summary>
[Flags]
public enum KilnFrameFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>On INPUT: this is the job's last input frame (it may be empty).</summary>
    Last = 0x01,

    /// <summary>On RESULT: the node answered from its result cache; nothing was compiled for this job.</summary>
    FromCache = 0x02,

    /// <summary>
    /// On LOOKUP: send the result of the manifest's newest entry right behind the MANIFEST when it is
    /// small (<see cref="KilnProtocol.EagerResultLimit"/>), which saves the FETCH round trip when that
    /// entry's files match. On MANIFEST: exactly one RESULT frame, of the first entry, follows.
    /// </summary>
    WithResult = 0x04,

    /// <summary>
    /// On JOB: the job comes ahead of its input, which the client is still making (its preprocessor
    /// runs). The action key and the input digest are all zero and the input size is 0: the INPUT
    /// frames that follow, up to the one flagged LAST, are the input, within the node's input limit.
    /// A node that announced <see cref="KilnCapabilities.JobAhead"/> may start the compiler now and feed
    /// it the input as it comes; it looks the result up by its own key once the input is complete.
    /// </summary>
    Ahead = 0x08,

    /// <summary>
    /// On the LAST INPUT of a job sent <see cref="Ahead"/>: the client will not send the input after all
    /// (its local cache had the result, or its preprocessor failed). The node drops the job, stopping
    /// any compiler it started, and answers nothing.
    /// </summary>
    Abandon = 0x10,
}
