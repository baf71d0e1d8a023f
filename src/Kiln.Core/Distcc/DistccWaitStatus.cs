namespace Kiln.Core.Distcc;

/// <summary>
/// distcc's STAT carries a Unix wait status (<c>exit &lt;&lt; 8</c>, or the terminating signal in the low
/// bits); Kiln's outcomes carry an exit code (128+N for signal N, as a shell reports it).
/// </summary>
public static class DistccWaitStatus
{
    /// <summary>The wait status for an exit code.</summary>
    public static uint FromExitCode(int exitCode) => exitCode switch
    {
        > 128 and < 128 + 65 => (uint)(exitCode - 128),
        _ => (uint)(exitCode & 0xff) << 8,
    };

    /// <summary>The exit code for a wait status.</summary>
    public static int ToExitCode(uint status)
    {
        var signal = (int)(status & 0x7f);
        return signal != 0 ? 128 + signal : (int)((status >> 8) & 0xff);
    }
}
