using System.Globalization;
using System.Net;
using Kiln.Server.Hosting;

namespace Kiln.Cli.Serve;

/// <summary><c>kiln serve</c>: run a node in the foreground until Ctrl-C or SIGTERM.</summary>
internal static class ServeCommand
{
    private const string Help = """
        kiln serve [OPTIONS]

        Runs a Kiln node in the foreground: compiles for clients and serves the cache front ends.

          --data DIR          data directory (default ~/.local/share/kiln)
          --listen ADDR:PORT  Kiln protocol listener (default 127.0.0.1:3635)
          --http ADDR:PORT    HTTP: dashboard, /api/, /metrics, ccache and Bazel caches (default 127.0.0.1:3633)
          --grpc ADDR:PORT    Bazel Remote Execution API over h2c (default off)
          --distcc ADDR:PORT  distcc protocol 1, 2 and 3 for stock distcc clients (default off; the
                              protocol has no authentication, so only --allow networks are served)
          --allow CIDR        network allowed on the distcc listener (repeatable; default loopback only)
          --plaintext-loopback  also serve the Kiln protocol without TLS, to loopback peers only
                              (benchmarks and tests; remote peers always need TLS)
          --local-socket PATH|off  the Kiln protocol on a Unix socket for this user's kiln cc on this
                              machine: no TCP, no TLS (default DATA/local/kiln.sock; the directory
                              is this user's alone; clients learn the path over loopback)
          --slots N           compile slots (default: the number of cores)
          --cache-size SIZE   cache size cap, e.g. 500M or 10G (default 10G); least recently used blobs go first
          --result-cache on|off  answer compile jobs from stored results and store new ones (default on;
                              off compiles every job; the ccache and Bazel caches are not affected)
          --name NAME         node name in logs and discovery (default: the host name)
          --collector URL     send this node's job records to a collector node (http://HOST:3633)
          --job-retention T   keep job records for T (e.g. 7d, 12h, 30m; default 7d); totals stay
          --job-retention-rows N  keep at most N job records (default 1000000)
          --accounting on|off record every job (default on)
          --stdio             serve one Kiln protocol session on stdin/stdout (ssh mode) and exit
          --sandbox MODE      auto (bubblewrap when installed, the default), bwrap (required) or off
          --warm-sandboxes on|off  keep a sandbox set up per slot before its job arrives
                              (default on; docs/ssh-and-sandbox.md)
          --job-cpu SECONDS   CPU time limit per compile process (default 300; 0 = none)
          --job-memory SIZE   address-space limit per compile process (default 4G; 0 = none)
          --job-output SIZE   largest file, object or output a compile may write (default 256M)
          --zeroconf          announce the node by DNS-SD over multicast DNS: _kiln._tcp, and
                              _distcc._tcp when --distcc is on (found by 'kiln hosts --browse',
                              avahi-browse, and distcc's +zeroconf)
          --advertise ADDR    IPv4 interface address to announce on (repeatable; default: every
                              interface that is up and can multicast)
          --trust-k N         owners that must agree before a hit is served to a consumer naming no
                              policy (default 0: a plain cache); keys from DATA/trust, named policies
                              from DATA/policies/NAME.policy (docs/trust.md)
          --peer URL          a node to exchange attestations with (repeatable; its HTTP address)
          --rebuild-rate R    share (0..1) of actions others attested that this node re-executes
                              to check (default 0; 1 = all it has the inputs for)
        """ + "\n" + SchedulingOptions.Help + """
        A bare port (--distcc 3632) listens on 127.0.0.1.

        Security: the Kiln protocol is TLS 1.3; the node makes its certificate in DATA/tls on first
        start and prints its fingerprint for clients to pin (KILN_HOSTS 'host,fp=HEX'). Until the
        first 'kiln token create', loopback clients are trusted with every role and other addresses
        are refused; afterwards every client presents a token or a granted client certificate.
        Jobs and refusals are logged in DATA/audit.jsonl. See docs/security.md.

        Socket I/O runs inline on the runtime's event threads (no hand-off to the thread pool per
        request); DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 in the node's environment turns that
        off. The node stops within a few seconds of SIGTERM or Ctrl-C: connections kept between jobs
        are closed at once, a job in hand is answered first. See docs/architecture.md.

        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new KilnNodeOptions();
        string? localSocket = null;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a is "-h" or "--help")
            {
                Console.Out.Write(Help);
                return 0;
            }

            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new UsageException($"{a} needs a value");
                }

                return args[++i];
            }

            try
            {
                switch (a)
                {
                    case "--data":
                        options.DataDirectory = Path.GetFullPath(Value());
                        break;
                    case "--listen":
                        options.Listen = ParseEndPoint(a, Value());
                        break;
                    case "--http":
                        options.Http = ParseOptionalEndPoint(a, Value());
                        break;
                    case "--grpc":
                        options.Grpc = ParseOptionalEndPoint(a, Value());
                        break;
                    case "--distcc":
                        options.Distcc = ParseOptionalEndPoint(a, Value());
                        break;
                    case "--allow":
                        var v = Value();
                        if (!IPNetwork.TryParse(v.Contains('/') ? v : v + (v.Contains(':') ? "/128" : "/32"), out var network))
                        {
                            throw new UsageException($"--allow {v}: not an address or CIDR network (for example 10.0.0.0/8)");
                        }

                        options.Allow.Add(network);
                        break;
                    case "--slots":
                        var s = Value();
                        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var slots) || slots < 1 || slots > 4096)
                        {
                            throw new UsageException($"--slots {s}: must be a number from 1 to 4096");
                        }

                        options.Slots = slots;
                        break;
                    case "--cache-size":
                        var size = Value();
                        if (!ByteSize.TryParse(size, out var cacheBytes) || cacheBytes < 1 << 20)
                        {
                            throw new UsageException($"--cache-size {size}: expected a size of at least 1M, such as 500M or 10G");
                        }

                        options.CacheSizeBytes = cacheBytes;
                        break;
                    case "--name":
                        options.NodeName = Value();
                        break;
                    case "--collector":
                        var url = Value();
                        if (!Uri.TryCreate(url, UriKind.Absolute, out var collector) || collector.Scheme is not ("http" or "https"))
                        {
                            throw new UsageException($"--collector {url}: expected an http:// URL such as http://10.0.0.1:3633");
                        }

                        options.Accounting.Collector = collector;
                        break;
                    case "--job-retention":
                        var retention = Value();
                        options.Accounting.Retention = ParseDuration(a, retention);
                        break;
                    case "--job-retention-rows":
                        var rows = Value();
                        if (!long.TryParse(rows, NumberStyles.None, CultureInfo.InvariantCulture, out var maxRows) || maxRows < 1)
                        {
                            throw new UsageException($"--job-retention-rows {rows}: expected a positive number");
                        }

                        options.Accounting.RetentionRows = maxRows;
                        break;
                    case "--result-cache":
                        options.ResultCache = Value() switch
                        {
                            "on" => true,
                            "off" => false,
                            var other => throw new UsageException($"--result-cache {other}: expected on or off"),
                        };
                        break;
                    case "--accounting":
                        options.Accounting.Enabled = Value() switch
                        {
                            "on" => true,
                            "off" => false,
                            var other => throw new UsageException($"--accounting {other}: expected on or off"),
                        };
                        break;
                    case "--local-socket":
                        var socket = Value();
                        localSocket = socket == "off" ? "" : Path.GetFullPath(socket);
                        break;
                    case "--plaintext-loopback":
                        options.PlaintextLoopback = true;
                        break;
                    case "--stdio":
                        options.Stdio = true;
                        break;
                    case "--sandbox":
                        var mode = Value();
                        options.Jobs.Sandbox = mode switch
                        {
                            "auto" => Kiln.Server.Compile.JobSandboxMode.Auto,
                            "bwrap" or "bubblewrap" => Kiln.Server.Compile.JobSandboxMode.Bubblewrap,
                            "off" or "none" => Kiln.Server.Compile.JobSandboxMode.Off,
                            _ => throw new UsageException($"--sandbox {mode}: expected auto, bwrap or off"),
                        };
                        break;
                    case "--warm-sandboxes":
                        options.WarmSandboxes = Value() switch
                        {
                            "on" => true,
                            "off" => false,
                            var other => throw new UsageException($"--warm-sandboxes {other}: expected on or off"),
                        };
                        break;
                    case "--job-cpu":
                        var cpu = Value();
                        if (!int.TryParse(cpu, NumberStyles.None, CultureInfo.InvariantCulture, out var cpuSeconds))
                        {
                            throw new UsageException($"--job-cpu {cpu}: expected a number of seconds (0 = no limit)");
                        }

                        options.Jobs.CpuSeconds = cpuSeconds;
                        break;
                    case "--job-memory" or "--job-output":
                        var limit = Value();
                        long limitBytes = 0;
                        if (!(limit == "0" && a == "--job-memory" || ByteSize.TryParse(limit, out limitBytes) && limitBytes >= 1 << 20))
                        {
                            throw new UsageException($"{a} {limit}: expected a size of at least 1M, such as 512M or 4G{(a == "--job-memory" ? ", or 0 for no limit" : "")}");
                        }

                        if (a == "--job-memory")
                        {
                            options.Jobs.MemoryBytes = limitBytes;
                        }
                        else
                        {
                            options.Jobs.OutputBytes = limitBytes;
                        }

                        break;
                    case "--zeroconf":
                        options.Zeroconf = true;
                        break;
                    case "--advertise":
                        var address = Value();
                        if (!IPAddress.TryParse(address, out var advertise) || advertise.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                        {
                            throw new UsageException($"--advertise {address}: not an IPv4 address");
                        }

                        options.Zeroconf = true;
                        options.Advertise.Add(advertise);
                        break;
                    case "--trust-k" or "--peer" or "--rebuild-rate":
                        Kiln.Cli.Trust.ServeTrustOptions.Apply(options.Trust, a, Value());
                        break;
                    default:
                        if (SchedulingOptions.TryApply(a, Value, options))
                        {
                            break;
                        }

                        throw new UsageException($"unknown option '{a}'. Run 'kiln serve --help' for the options.");
                }
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"kiln serve: {e.Message}");
                return 2;
            }
        }

        // Default: beside the data it serves. "" (off) means none.
        options.LocalSocket = localSocket is null ? KilnNodeOptions.DefaultLocalSocket(options.DataDirectory) : localSocket.Length == 0 ? null : localSocket;

        if (options.Stdio)
        {
            try
            {
                // ssh mode: standard output carries the protocol, so nothing else may write to it.
                return await Kiln.Server.Protocol.KilnStdioServer.RunAsync(options, Console.OpenStandardInput(), Console.OpenStandardOutput(), CancellationToken.None);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"kiln serve: {e.Message}");
                return 1;
            }
        }

        // Before the first socket: the runtime reads the switch once (InlineSocketIo says why).
        Kiln.Server.Hosting.InlineSocketIo.PreferForThisProcess();
        using var stop = new CancellationTokenSource();
        KilnNode node;
        try
        {
            node = await KilnNode.StartAsync(options, stop.Token);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"kiln serve: could not listen: {e.Message}");
            return 1;
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("--sandbox", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"kiln serve: {e.Message}");
            return 1;
        }

        await using (node)
        {
            Console.Error.WriteLine($"kiln serve: node '{options.NodeName}' with {options.Slots} slots, data in {options.DataDirectory}");
            Console.Error.WriteLine($"  kiln protocol  {node.KilnEndPoint} (TLS 1.3{(options.PlaintextLoopback ? "; plaintext for loopback peers too" : "")})");
            if (options.LocalSocket is not null)
            {
                Console.Error.WriteLine($"  local socket   {options.LocalSocket} (this user's kiln cc on this machine: no TCP, no TLS)");
            }
            else if (node.LocalSocketRefusal is { } refusal)
            {
                Console.Error.WriteLine($"  local socket   none: {refusal}");
            }

            Console.Error.WriteLine($"  fingerprint    {node.TlsFingerprint}{(node.TlsCertificateCreated ? " (new certificate in " + Path.Combine(options.DataDirectory, "tls") + ")" : "")}");
            Console.Error.WriteLine($"                 pin it: KILN_HOSTS=\"HOST:{node.KilnEndPoint.Port},fp={node.TlsFingerprint}\"");
            var tokens = new Kiln.Core.Security.TokenStore(Kiln.Server.Security.NodeAuthenticator.TokenFile(options.DataDirectory));
            Console.Error.WriteLine(tokens.IsEmpty
                ? "  access         no tokens yet: loopback clients are trusted, other addresses refused ('kiln token create' ends this)"
                : $"  access         {tokens.List().Count} token(s) and certificate(s); every client presents one");
            Console.Error.WriteLine($"  audit log      {Kiln.Server.Security.AuditLog.FilePath(options.DataDirectory)}");
            Console.Error.WriteLine($"  jobs           {node.Executor.Sandbox.Describe()}");
            Console.Error.WriteLine(Kiln.Server.Hosting.InlineSocketIo.Enabled
                ? $"  socket i/o     inline on the runtime's event threads ({Kiln.Server.Hosting.InlineSocketIo.Variable}=0 hands it to the thread pool)"
                : $"  socket i/o     through the thread pool ({Kiln.Server.Hosting.InlineSocketIo.Variable} is not 1)");
            if (node.HttpEndPoint is not null)
            {
                Console.Error.WriteLine($"  http           http://{node.HttpEndPoint}/");
            }

            if (node.DistccEndPoint is not null)
            {
                Console.Error.WriteLine($"  distcc         {node.DistccEndPoint} (allowed: {string.Join(", ", options.EffectiveAllow())})");
            }

            if (node.GrpcEndPoint is not null)
            {
                Console.Error.WriteLine($"  grpc (h2c)     {node.GrpcEndPoint}");
            }

            if (options.Zeroconf)
            {
                Console.Error.WriteLine($"  zeroconf       _kiln._tcp{(node.DistccEndPoint is null ? "" : " and _distcc._tcp")} as '{options.NodeName}' on {(options.Advertise.Count > 0 ? string.Join(", ", options.Advertise) : "every multicast interface")}");
            }

            Kiln.Cli.Trust.ServeTrustOptions.Describe(node, Console.Error);
            Console.Error.WriteLine("ready: CC=\"kiln cc gcc\" builds through this node; Ctrl-C stops it.");
            await node.WaitForShutdownAsync(CancellationToken.None);
        }

        return 0;
    }

    /// <summary>Parses a duration such as 7d, 12h, 30m or 90s.</summary>
    internal static TimeSpan ParseDuration(string option, string value)
    {
        if (value.Length >= 2 && long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            switch (value[^1])
            {
                case 'd':
                    return TimeSpan.FromDays(n);
                case 'h':
                    return TimeSpan.FromHours(n);
                case 'm':
                    return TimeSpan.FromMinutes(n);
                case 's':
                    return TimeSpan.FromSeconds(n);
            }
        }

        throw new UsageException($"{option} {value}: expected a duration such as 7d, 12h, 30m or 90s");
    }

    private static IPEndPoint? ParseOptionalEndPoint(string option, string value) =>
        value is "off" or "none" ? null : ParseEndPoint(option, value);

    /// <summary>Parses ADDR:PORT, [v6]:PORT or a bare PORT (loopback).</summary>
    internal static IPEndPoint ParseEndPoint(string option, string value)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bare))
        {
            return bare <= 65535 ? new IPEndPoint(IPAddress.Loopback, bare) : throw new UsageException($"{option} {value}: port out of range");
        }

        if (IPEndPoint.TryParse(value, out var endPoint) && endPoint.Port != 0 || value.EndsWith(":0", StringComparison.Ordinal) && IPEndPoint.TryParse(value, out endPoint))
        {
            return endPoint!;
        }

        throw new UsageException($"{option} {value}: expected ADDR:PORT (for example 127.0.0.1:3635) or a port");
    }
}

/// <summary>A command-line mistake, reported in one line with exit status 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
