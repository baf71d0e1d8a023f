using System.Globalization;
using System.Net;
using System.Text;
using Kiln.Core.Discovery;
using Kiln.Core.Hosts;
using Kiln.Server.Discovery;

namespace Kiln.Cli.Hosts;

/// <summary><c>kiln hosts</c>: the hosts a client would use, from KILN_HOSTS and, with +zeroconf or --browse, from DNS-SD.</summary>
internal static class HostsCommand
{
    private const string Help = """
        kiln hosts [OPTIONS]

        Lists the hosts of KILN_HOSTS (else DISTCC_HOSTS, else the local node 127.0.0.1:3635). With
        +zeroconf in the list, or --browse, it also asks the local network by multicast DNS for Kiln
        nodes (_kiln._tcp) and distcc servers (_distcc._tcp and distcc's compiler subtype) and lists
        them with their TXT attributes (slots, free, targets, protocols; cpus, jobs, cc_machine).

          --browse            browse even without +zeroconf in the list
          --interface ADDR    IPv4 interface address to query on (repeatable; default: every
                              interface that is up and can multicast, else loopback)
          --timeout MS        how long to collect answers (default 800)
          --seed HOST:PORT    a node's HTTP address to ask for the nodes it knows (GET /api/nodes:
                              itself and the peers it found by DNS-SD); repeatable, and
                              KILN_SEEDS="HOST:PORT ..." adds more. For networks without multicast.

        Output: one line per host: source, protocol, name, address:port, then key=value attributes.

        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var browse = false;
        var interfaces = new List<IPAddress>();
        var duration = ServiceBrowser.DefaultDuration;
        var seeds = (Environment.GetEnvironmentVariable("KILN_SEEDS") ?? "").Split([' ', ',', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries).ToList();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (a)
            {
                case "-h" or "--help":
                    Console.Out.Write(Help);
                    return 0;
                case "--browse":
                    browse = true;
                    break;
                case "--interface" when value is not null && IPAddress.TryParse(value, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork:
                    interfaces.Add(address);
                    i++;
                    break;
                case "--timeout" when value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms is > 0 and <= 60_000:
                    duration = TimeSpan.FromMilliseconds(ms);
                    i++;
                    break;
                case "--seed" when value is not null:
                    seeds.Add(value);
                    i++;
                    break;
                default:
                    Console.Error.WriteLine($"kiln hosts: bad option '{a}'{(value is null ? "" : " " + value)}. Run 'kiln hosts --help' for the options.");
                    return 2;
            }
        }

        var text = Environment.GetEnvironmentVariable("KILN_HOSTS") is { Length: > 0 } kilnHosts ? kilnHosts
            : Environment.GetEnvironmentVariable("DISTCC_HOSTS") is { Length: > 0 } distccHosts ? distccHosts
            : "127.0.0.1:3635";
        var list = HostListParser.Parse(text);
        foreach (var error in list.Errors)
        {
            Console.Error.WriteLine($"kiln hosts: {error}");
        }

        var output = new StringBuilder();
        foreach (var host in list.Hosts.Where(h => h.Kind != HostKind.Zeroconf))
        {
            var protocol = host.Kind switch
            {
                HostKind.Local => "local",
                HostKind.Ssh => "ssh",
                _ => host.Protocol == HostProtocol.Distcc ? "distcc" : "kiln",
            };
            output.Append(CultureInfo.InvariantCulture, $"list\t{protocol}\t{host.Text}\t{host.Display}\tlimit={host.Limit}{(host.Down ? " down" : "")}\n");
        }

        if (browse || list.Hosts.Any(h => h.Kind == HostKind.Zeroconf))
        {
            var types = new List<string> { ServiceTypes.Kiln, ServiceTypes.Distcc };
            using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var compilers = await CompilerFacts.ProbeAsync("gcc", probe.Token);
            if (compilers != CompilerFacts.None)
            {
                types.Add(MulticastDns.DistccSubtype(compilers.Machine, compilers.Version));
            }

            var found = await ServiceBrowser.BrowseAsync(
                types, interfaces.Count > 0 ? interfaces : MulticastDns.DefaultInterfaceAddresses(), duration, CancellationToken.None);
            foreach (var service in found)
            {
                var protocol = service.ServiceType.StartsWith("_kiln.", StringComparison.Ordinal) ? "kiln" : "distcc";
                var attributes = string.Join(' ', service.Attributes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
                output.Append(CultureInfo.InvariantCulture, $"zeroconf\t{protocol}\t{service.Instance}\t{service.Address}:{service.Port}\t{attributes}\n");
            }
        }

        foreach (var seed in seeds)
        {
            var nodes = await SeedClient.AskAsync(seed, TimeSpan.FromSeconds(3), CancellationToken.None);
            if (nodes.Error is not null)
            {
                Console.Error.WriteLine($"kiln hosts: seed {seed}: {nodes.Error}");
                continue;
            }

            foreach (var node in nodes.Nodes)
            {
                var attributes = string.Join(' ', node.Attributes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
                output.Append(CultureInfo.InvariantCulture, $"seed\tkiln\t{node.Name}\t{node.Address}:{node.Port}\tsource={node.Source} {attributes}\n");
            }
        }

        Console.Out.Write(output.ToString());
        return 0;
    }
}
