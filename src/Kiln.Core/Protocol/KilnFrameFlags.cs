namespace Kiln.Core.Protocol;

/// <summary>
/// The second byte of a frame header: <see cref="Last"/> on INPUT, and <see cref="FromCache"/> on RESULT
/// for clients that announced <see cref="KilnCapabilities.ResultOrigin"/>. Any other flag is malformed.
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
}
