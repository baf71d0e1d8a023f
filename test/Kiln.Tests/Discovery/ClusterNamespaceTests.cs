using System.Text.RegularExpressions;
using Kiln.Tests.TestKit;
using Xunit.Abstractions;

namespace Kiln.Tests.Discovery;

/// <summary>
/// Three Kiln nodes, each in a network namespace of its own on one bridge, and a client namespace with
/// avahi-daemon: the nodes find each other (each one's /api/nodes lists the other two), avahi-browse
/// lists all three, <c>kiln hosts</c> lists a distccd announced with avahi-publish, and <c>kiln cc</c>
/// with <c>KILN_HOSTS=+zeroconf</c> sends every compile to the discovered nodes. Needs root.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed partial class ClusterNamespaceTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Nodes_in_their_own_namespaces_find_each_other_and_zeroconf_clients_use_them()
    {
        var (lab, reason) = await NamespaceLab.TryCreateAsync(4);
        if (lab is null)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        await using (lab)
        {
            var kiln = Tools.KilnBinary;

            // The client is not on loopback, so the nodes need a token from it (docs/security.md): one
            // token, made on node 1 and given to all three.
            var token = (await Tools.RunAsync(kiln, ["token", "create", "--role", "execute", "--name", "lab-client", "--data", Path.Combine(lab.WorkDirectory, "data-1")]))
                .Stdout.Trim();
            Assert.StartsWith("kiln_", token, StringComparison.Ordinal);
            foreach (var i in new[] { 2, 3 })
            {
                Directory.CreateDirectory(Path.Combine(lab.WorkDirectory, $"data-{i}"));
                File.Copy(Kiln.Server.Security.NodeAuthenticator.TokenFile(Path.Combine(lab.WorkDirectory, "data-1")),
                    Kiln.Server.Security.NodeAuthenticator.TokenFile(Path.Combine(lab.WorkDirectory, $"data-{i}")));
            }

            foreach (var i in new[] { 1, 2, 3 })
            {
                lab.Start(i, $"kiln-{i}", kiln, "serve", "--zeroconf", "--advertise", lab.Address(i),
                    "--listen", $"{lab.Address(i)}:3635", "--http", $"{lab.Address(i)}:3633",
                    "--name", $"node-{i}", "--slots", "2", "--data", Path.Combine(lab.WorkDirectory, $"data-{i}"));
            }

            var avahi = await lab.StartAvahiAsync(4, $"{lab.Prefix}client");

            // Each node's /api/nodes (asked from the client namespace as a seed) lists the other two, found by browsing.
            foreach (var i in new[] { 1, 2, 3 })
            {
                string seen = "";
                await NamespaceLab.WaitAsync(async () =>
                {
                    seen = (await lab.RunAsync(4, kiln, "hosts", "--seed", $"{lab.Address(i)}:3633")).Stdout;
                    return new[] { 1, 2, 3 }.Where(j => j != i).All(j => seen.Contains($"node-{j}\t{lab.Address(j)}:3635\tsource=zeroconf", StringComparison.Ordinal));
                }, $"node-{i} to list the other nodes; its log: {lab.Log($"kiln-{i}")}", TimeSpan.FromSeconds(60));
                output.WriteLine(seen);
            }

            // Avahi lists all three.
            string browse = "";
            await NamespaceLab.WaitAsync(async () =>
            {
                browse = (await lab.InAvahiAsync(avahi, "avahi-browse", "-rpt", "_kiln._tcp")).Stdout;
                return new[] { 1, 2, 3 }.All(i => browse.Contains($";node-{i};_kiln._tcp;local;node-{i}.local;{lab.Address(i)};3635;", StringComparison.Ordinal));
            }, "avahi-browse to resolve the three nodes", TimeSpan.FromSeconds(30));
            output.WriteLine(browse);

            // kiln hosts lists a distccd published through Avahi.
            lab.StartInAvahi(avahi, "publish", "avahi-publish", "-s", "avahi-distccd", "_distcc._tcp", "3632", "cpus=2", "cc_machine=aarch64-linux-gnu", "cc_version=12");
            string hosts = "";
            await NamespaceLab.WaitAsync(async () =>
            {
                hosts = (await lab.RunAsync(4, kiln, "hosts", "--browse", "--interface", lab.Address(4))).Stdout;
                return hosts.Contains("avahi-distccd", StringComparison.Ordinal) && hosts.Contains("node-3", StringComparison.Ordinal);
            }, "kiln hosts --browse to list the avahi-published distccd", TimeSpan.FromSeconds(30));
            output.WriteLine(hosts);
            Assert.Matches(@"zeroconf\tdistcc\tavahi-distccd\t" + Regex.Escape(lab.Address(4)) + @":3632\t.*cpus=2", hosts);

            // kiln cc with +zeroconf: twelve compiles, four at a time, all on the discovered Kiln nodes.
            var src = Directory.CreateDirectory(Path.Combine(lab.WorkDirectory, "src")).FullName;
            var env = new Dictionary<string, string?>
            {
                ["KILN_HOSTS"] = "+zeroconf",
                ["KILN_DIR"] = Path.Combine(lab.WorkDirectory, "client-state"),
                ["KILN_FALLBACK"] = "0",
                ["KILN_VERBOSE"] = "1",
                ["DISTCC_HOSTS"] = null,
                ["KILN_SEEDS"] = null,
                ["KILN_TOKEN"] = token,
            };
            var stderr = new List<string>();
            for (var batch = 0; batch < 3; batch++)
            {
                var runs = await Task.WhenAll(Enumerable.Range(batch * 4, 4).Select(i =>
                {
                    File.WriteAllText(Path.Combine(src, $"f{i}.c"), $"int f{i}(int x) {{ return x + {i}; }}\n");
                    return Tools.RunAsync("ip", ["netns", "exec", lab.Namespace(4), kiln, "cc", "gcc", "-c", $"f{i}.c", "-o", $"f{i}.o"], src, env,
                        TimeSpan.FromMinutes(2));
                }));
                foreach (var run in runs)
                {
                    Assert.True(run.ExitCode == 0, run.Stderr);
                    stderr.Add(run.Stderr);
                }
            }

            var perNode = new[] { 1, 2, 3 }.ToDictionary(i => i, i => stderr.Count(e => e.Contains($"compiled on {lab.Address(i)}:3635", StringComparison.Ordinal)));
            output.WriteLine("compiles per node: " + string.Join(", ", perNode.Select(p => $"node-{p.Key} {p.Value}")));
            Assert.Equal(12, perNode.Values.Sum());
            Assert.True(perNode.Values.Count(v => v > 0) >= 2, "the compiles used one node only");

            // The avahi-published distccd announces an aarch64 gcc (distcc's TXT keys): no x86-64 job goes there.
            Assert.DoesNotContain(stderr, e => e.Contains($"compiled on {lab.Address(4)}:3632", StringComparison.Ordinal));
            Assert.All(stderr, e => Assert.Contains($"{lab.Address(4)}:3632 skipped: it has no gcc:x86_64-linux-gnu:12 compiler", e));
        }
    }
}
