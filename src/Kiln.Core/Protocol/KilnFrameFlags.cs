namespace Kiln.Core.Protocol;

/// <summary>
/// The second byte of a frame header: <see cref="Last"/> on INPUT, <see cref="FromCache"/> on RESULT
/// for clients that announced <see cref="KilnCapabilities.ResultOrigin"/>, and <see cref="WithResult"/> on
/// LOOKUP and MANIFEST. Any other flag is malformed.
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
}
