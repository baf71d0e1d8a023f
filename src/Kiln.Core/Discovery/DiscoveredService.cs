using System.Net;

namespace Kiln.Core.Discovery;

/// <summary>A service instance found by browsing, resolved to host, port, addresses and TXT attributes.</summary>
public sealed record DiscoveredService(
    string Instance,
    string ServiceType,
    string HostName,
    int Port,
    IReadOnlyList<IPAddress> Addresses,
    IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>The first address, as text to connect to (the host name when none resolved).</summary>
    public string Address => Addresses.Count > 0 ? Addresses[0].ToString() : HostName;

    /// <summary>An attribute's value, or null.</summary>
    public string? Attribute(string key) => Attributes.TryGetValue(key, out var value) ? value : null;
}
