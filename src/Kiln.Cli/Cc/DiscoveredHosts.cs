using System.Globalization;
using System.Net;
using Kiln.Cli.Hosts;
using Kiln.Core.Discovery;
using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// The hosts <c>+zeroconf</c> (DNS-SD browsing) and <c>KILN_SEEDS</c> (asking known nodes' <c>/api/nodes</c>)
/// stand for. A browse takes most of a second, far longer than a compile's own overhead, so its answer
/// is kept in KILN_DIR/discovery for <see cref="CcSettings.DiscoveryLifetime"/>: one compile of a build
/// browses (under a lock) and the others read its list; while one refreshes a stale list the others use
/// the stale one. Each found node's TXT attributes become its <see cref="NodeFacts"/>.
/// </summary>
internal static class DiscoveredHosts
{
    /// <summary>How long a browse listens: Kiln nodes and avahi answer within tens of milliseconds on a LAN.</summary>
    private static readonly TimeSpan BrowseDuration = TimeSpan.FromMilliseconds(500);

    /// <summary>A list older than this is not used even while another compile refreshes it.</summary>
    private static readonly TimeSpan StaleLimit = TimeSpan.FromMinutes(10);

    /// <summary>One found node: how to reach it and its attributes.</summary>
    public sealed record Found(HostSpec Host, IReadOnlyDictionary<string, string> Attributes);

    /// <summary>Hosts found by DNS-SD (<paramref name="zeroconf"/>) and by the seeds; empty when neither is asked for.</summary>
    public static async Task<List<Found>> FindAsync(CcSettings settings, bool zeroconf, CancellationToken cancellationToken)
    {
        var found = new List<Found>();
        if (zeroconf)
        {
            found.AddRange(await CachedAsync(settings, "zeroconf", () => BrowseAsync(settings, cancellationToken)).ConfigureAwait(false));
        }

        if (settings.Seeds.Count > 0)
        {
            found.AddRange(await CachedAsync(settings, "seeds", () => AskSeedsAsync(settings, cancellationToken)).ConfigureAwait(false));
        }

        // A node found both ways, or announcing _kiln._tcp and _distcc._tcp, is used once, by the Kiln protocol.
        var kilnAddresses = found.Where(f => f.Host.Protocol == HostProtocol.Kiln).Select(f => f.Host.Host).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<Found>();
        foreach (var f in found)
        {
            var kilnTwin = f.Host.Protocol == HostProtocol.Distcc && f.Attributes.GetValueOrDefault("distcc") == "kiln" && kilnAddresses.Contains(f.Host.Host);
            if (!kilnTwin && seen.Add(f.Host.Display))
            {
                result.Add(f);
            }
        }

        foreach (var f in result)
        {
            NodeFacts.Write(settings.StateDirectory, f.Host, f.Attributes);
        }

        return result;
    }

    private static async Task<List<Found>> CachedAsync(CcSettings settings, string name, Func<Task<List<Found>>> discover)
    {
        var directory = Path.Combine(settings.StateDirectory, "discovery");
        var list = Path.Combine(directory, name);
        var age = DateTime.UtcNow - File.GetLastWriteTimeUtc(list);
        if (age >= TimeSpan.Zero && age < settings.DiscoveryLifetime && Load(list) is { } fresh)
        {
            return fresh;
        }

        Directory.CreateDirectory(directory);
        using (var refresh = FileLock.TryTake(list + ".lock"))
        {
            if (refresh is not null)
            {
                var discovered = await discover().ConfigureAwait(false);
                Save(list, discovered);
                return discovered;
            }
        }

        // Another compile is refreshing: a stale list beats waiting; with none, wait for its answer.
        if (age < StaleLimit && Load(list) is { } stale)
        {
            return stale;
        }

        using (FileLock.Take(list + ".lock", TimeSpan.FromSeconds(10)))
        {
            return Load(list) ?? [];
        }
    }

    private static async Task<List<Found>> BrowseAsync(CcSettings settings, CancellationToken cancellationToken)
    {
        var interfaces = settings.ZeroconfInterfaces.Count > 0 ? settings.ZeroconfInterfaces : MulticastDns.DefaultInterfaceAddresses();
        IReadOnlyList<DiscoveredService> services;
        try
        {
            services = await ServiceBrowser.BrowseAsync([ServiceTypes.Kiln, ServiceTypes.Distcc], interfaces, BrowseDuration, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException)
        {
            return [];
        }

        var found = new List<Found>();
        foreach (var service in services)
        {
            var kiln = service.ServiceType.StartsWith("_kiln.", StringComparison.Ordinal);
            var slots = service.Attribute(kiln ? "slots" : "jobs");
            found.Add(new Found(Host(service.Address, service.Port, kiln, slots), service.Attributes));
        }

        return found;
    }

    private static async Task<List<Found>> AskSeedsAsync(CcSettings settings, CancellationToken cancellationToken)
    {
        var found = new List<Found>();
        foreach (var seed in settings.Seeds)
        {
            var answer = await SeedClient.AskAsync(seed, TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
            foreach (var node in answer.Nodes)
            {
                found.Add(new Found(Host(node.Address, node.Port, kiln: true, node.Attributes.GetValueOrDefault("slots")), node.Attributes));
            }
        }

        return found;
    }

    private static HostSpec Host(string address, int port, bool kiln, string? slots)
    {
        var limit = int.TryParse(slots, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : HostListParser.DefaultRemoteLimit;
        var host = IPAddress.TryParse(address, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "[" + address + "]" : address;
        return new HostSpec
        {
            Text = "discovered:" + host + ":" + port.ToString(CultureInfo.InvariantCulture),
            Kind = HostKind.Tcp,
            Host = address,
            Port = port,
            Limit = limit,
            Protocol = kiln ? HostProtocol.Kiln : HostProtocol.Distcc,
        };
    }

    /// <summary>The list file: one node a line, <c>kiln|distcc TAB address TAB port TAB limit</c>, then TAB-separated <c>key=value</c>.</summary>
    private static void Save(string path, List<Found> found)
    {
        var lines = found.Select(f => string.Join('\t', new[]
        {
            f.Host.Protocol == HostProtocol.Kiln ? "kiln" : "distcc", f.Host.Host, f.Host.Port.ToString(CultureInfo.InvariantCulture),
            f.Host.Limit.ToString(CultureInfo.InvariantCulture),
        }.Concat(f.Attributes.Where(a => !a.Key.Contains('\t') && !a.Value.Contains('\t') && !a.Value.Contains('\n')).Select(a => a.Key + "=" + a.Value))));
        try
        {
            var temporary = path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
            File.WriteAllLines(temporary, lines);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static List<Found>? Load(string path)
    {
        try
        {
            var found = new List<Found>();
            foreach (var line in File.ReadAllLines(path))
            {
                var fields = line.Split('\t');
                if (fields.Length < 4 || !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                {
                    continue;
                }

                var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var field in fields.Skip(4))
                {
                    var eq = field.IndexOf('=');
                    if (eq > 0)
                    {
                        attributes[field[..eq]] = field[(eq + 1)..];
                    }
                }

                found.Add(new Found(Host(fields[1], port, fields[0] == "kiln", fields[3]), attributes));
            }

            return found;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
