using System.Net.Sockets;

namespace Kiln.Server.Hosting;

/// <summary>
/// Makes ready the place of the node's local socket (<see cref="KilnNodeOptions.LocalSocket"/>): its
/// directory, the node user's alone, and no stale socket left by a node that was killed.
/// </summary>
internal static class LocalSocketListener
{
    /// <summary>The most bytes a Unix socket's path may have (sockaddr_un's 108, less the NUL).</summary>
    public const int MaxPathBytes = 107;

    /// <summary>Readies <paramref name="path"/>; returns why the node cannot listen there, or null.</summary>
    public static string? Prepare(string path)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            return $"{path} is longer than a Unix socket's {MaxPathBytes} bytes (give --local-socket a shorter path)";
        }

        var directory = Path.GetDirectoryName(path)!;
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // Also when it was there before: only this user (and root) may connect.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (File.Exists(path))
            {
                if (IsServed(path))
                {
                    return $"another process serves {path} (a second node on the same data directory?)";
                }

                // Left by a node that was killed: nothing listens on it.
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{directory}: {e.Message}";
        }

        return null;
    }

    private static bool IsServed(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
