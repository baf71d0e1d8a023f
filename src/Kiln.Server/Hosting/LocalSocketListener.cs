using System.Net.Sockets;
using Kiln.Core.Protocol;

namespace Kiln.Server.Hosting;

/// <summary>
/// Makes ready the place of the node's local socket (<see cref="KilnNodeOptions.LocalSocket"/>): its
/// directory, the node user's alone, and no stale socket left by a node that was killed.
/// </summary>
internal static class LocalSocketListener
{
    /// <summary>Readies <paramref name="path"/>; returns why the node cannot listen there, or null.</summary>
    public static string? Prepare(string path)
    {
        if (!UnixSocketPath.Fits(path))
        {
            return $"{path} is longer than a Unix socket's {UnixSocketPath.MaxBytes} bytes (give --local-socket a shorter path)";
        }

        var directory = Path.GetDirectoryName(path)!;
        try
        {
            UnixSocketPath.CreatePrivateDirectory(directory);
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
