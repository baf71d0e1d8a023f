using System.Runtime.InteropServices;

namespace Kiln.Core.Protocol;

/// <summary>
/// Who is at the other end of a connected Unix socket: SO_PEERCRED, the process and user the kernel
/// recorded when the connection was made. The node names local-socket peers by it in its audit log;
/// <c>kiln cc</c> checks by it that a node's local socket is served by the node's user.
/// </summary>
public static partial class UnixPeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>The peer's process id and user id for socket descriptor <paramref name="descriptor"/>, or null when the kernel says none.</summary>
    public static (int ProcessId, uint UserId)? Of(nint descriptor)
    {
        // struct ucred: pid, uid, gid.
        Span<int> credentials = stackalloc int[3];
        var length = 3 * sizeof(int);
        return getsockopt((int)descriptor, SolSocket, SoPeerCred, ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(credentials)), ref length) == 0 && length == 3 * sizeof(int)
            ? (credentials[0], (uint)credentials[1])
            : null;
    }

    /// <summary>The user this process runs as.</summary>
    public static uint EffectiveUserId() => geteuid();

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, ref byte value, ref int length);
}
