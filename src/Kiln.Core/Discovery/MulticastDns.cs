using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Kiln.Core.Discovery;

/// <summary>Multicast DNS constants and sockets (RFC 6762), IPv4 only.</summary>
public static class MulticastDns
{
    /// <summary>The mDNS port.</summary>
    public const int Port = 5353;

    /// <summary>DNS-SD service type enumeration name (RFC 6763 §9).</summary>
    public const string ServicesName = "_services._dns-sd._udp.local";

    /// <summary>The IPv4 mDNS group.</summary>
    public static readonly IPAddress Group = IPAddress.Parse("224.0.0.251");

    /// <summary>The group and port as one endpoint.</summary>
    public static readonly IPEndPoint GroupEndPoint = new(Group, Port);

    // Linux socket option numbers .NET does not name.
    private const int SolSocket = 1;
    private const int SoReusePort = 15;
    private const int IpProtoIp = 0;
    private const int IpMulticastAll = 49;

    /// <summary>
    /// A socket on UDP 5353 that shares the port with avahi-daemon and others (SO_REUSEADDR and
    /// SO_REUSEPORT, as avahi sets them), joined to 224.0.0.251 on <paramref name="interfaceAddress"/>
    /// only, sending through that interface with TTL 255 (RFC 6762 §11).
    /// </summary>
    public static Socket OpenResponderSocket(IPAddress interfaceAddress)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.Bind(new IPEndPoint(IPAddress.Any, Port));

            // Only the groups this socket joined, not every group any socket on the machine joined.
            socket.SetRawSocketOption(IpProtoIp, IpMulticastAll, BitConverter.GetBytes(0));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(Group, interfaceAddress));
            SetSendInterface(socket, interfaceAddress);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A socket on an ephemeral port for one-shot ("legacy unicast") queries: responders answer it directly.</summary>
    public static Socket OpenQuerySocket()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
        return socket;
    }

    /// <summary>
    /// Makes multicast leave through the interface holding <paramref name="interfaceAddress"/>
    /// (IP_MULTICAST_IF). Without it a send fails with ENETUNREACH where only the subnet route exists.
    /// </summary>
    public static void SetSendInterface(Socket socket, IPAddress interfaceAddress)
    {
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, interfaceAddress.GetAddressBytes());
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
        socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
    }

    /// <summary>
    /// The IPv4 addresses of interfaces that are up and can multicast, loopback excluded; when
    /// there are none, 127.0.0.1 (avahi also treats loopback as usable).
    /// </summary>
    public static IReadOnlyList<IPAddress> DefaultInterfaceAddresses()
    {
        var result = new List<IPAddress>();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback || !nic.SupportsMulticast)
            {
                continue;
            }

            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    result.Add(unicast.Address);
                }
            }
        }

        return result.Count > 0 ? result : [IPAddress.Loopback];
    }

    /// <summary>
    /// distcc's subtype for a compiler: <c>_&lt;machine&gt;--&lt;version&gt;._sub._distcc._tcp.local</c>,
    /// with every character outside [a-z0-9] of machine and version turned into '-'.
    /// </summary>
    public static string DistccSubtype(string machine, string version) =>
        $"_{SubtypePart(machine)}--{SubtypePart(version)}._sub.{ServiceTypes.Distcc}";

    private static string SubtypePart(string text) =>
        string.Create(text.Length, text.ToLowerInvariant(), (span, lower) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = lower[i];
                span[i] = c is >= 'a' and <= 'z' or >= '0' and <= '9' ? c : '-';
            }
        });
}
