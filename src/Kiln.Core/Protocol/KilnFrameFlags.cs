namespace Kiln.Core.Protocol;

/// <summary>The second byte of a frame header. Version 1 defines one flag, on INPUT frames only.</summary>
[Flags]
public enum KilnFrameFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>On INPUT: this is the job's last input frame (it may be empty).</summary>
    Last = 0x01,
}
