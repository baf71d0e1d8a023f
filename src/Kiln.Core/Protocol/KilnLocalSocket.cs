using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Kiln.Core.Protocol;

/// <summary>
/// A node's Unix socket, as its WELCOME tells a loopback peer: <c>local=PORT,UID,NETNS,PATH</c>. The port
/// is the node's Kiln protocol port and NETNS its network namespace (the inode of
/// <c>/proc/self/ns/net</c>): a loopback address and port name one listener only within one network
/// namespace, while paths are shared across them, so a client uses the socket only for that port and
/// only from that namespace (a relay or an ssh tunnel on another port stays what it is). The user id is
/// the node's (checked against the socket's peer credentials, so a socket someone else bound at that
/// path is refused), and the path is the rest of the value.
/// </summary>
public sealed record KilnLocalSocket(int Port, uint UserId, ulong NetworkNamespace, string Path)
{
    /// <summary>The WELCOME attribute's key.</summary>
    public const string AttributeName = "local";

    /// <summary>The attribute's value.</summary>
    public string Value => string.Create(CultureInfo.InvariantCulture, $"{Port},{UserId},{NetworkNamespace},{Path}");

    /// <summary>The <c>key=value</c> word a WELCOME carries.</summary>
    public string Attribute => AttributeName + "=" + Value;

    /// <summary>Parses an attribute value; false for anything but <c>PORT,UID,NETNS,/absolute/path</c>.</summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out KilnLocalSocket? socket)
    {
        socket = null;
        var parts = value?.Split(',', 4);
        if (parts is not { Length: 4 }
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
            || !uint.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            || !ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var netns)
            || !parts[3].StartsWith('/') || parts[3].Length > UnixSocketPath.MaxBytes || parts[3].Contains('\0'))
        {
            return false;
        }

        socket = new KilnLocalSocket(port, uid, netns, parts[3]);
        return true;
    }

    /// <summary>
    /// This process's network namespace: the inode in <c>/proc/self/ns/net</c>'s link (<c>net:[4026531840]</c>),
    /// or 0 when it cannot be read.
    /// </summary>
    public static ulong CurrentNetworkNamespace()
    {
        try
        {
            var target = new FileInfo("/proc/self/ns/net").LinkTarget;
            return target is { Length: > 6 } && target.StartsWith("net:[", StringComparison.Ordinal) && target.EndsWith(']')
                && ulong.TryParse(target.AsSpan(5, target.Length - 6), NumberStyles.None, CultureInfo.InvariantCulture, out var inode)
                    ? inode
                    : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
