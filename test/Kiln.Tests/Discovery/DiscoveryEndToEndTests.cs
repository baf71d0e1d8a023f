using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kiln.Core.Discovery;
using Kiln.Tests.TestKit;
using Xunit.Abstractions;

namespace Kiln.Tests.Discovery;

/// <summary>
/// Kiln and Avahi on one LAN made of three network namespaces on a bridge: Kiln nodes announce in
/// namespaces 1 and 2, avahi-daemon runs in 3. Needs root ('ip netns add'); multicast stays inside
/// the namespaces.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class DiscoveryEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Avahi_and_distcc_find_Kiln_nodes_and_Kiln_finds_Avahi_services()
    {
        var (lab, reason) = await NamespaceLab.TryCreateAsync(3);
        if (lab is null)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        await using (lab)
        {
            var kiln = Tools.KilnBinary;
            var nodes = new Dictionary<int, int>();
            foreach (var i in new[] { 1, 2 })
            {
                nodes[i] = lab.Start(i, $"kiln-{i}", kiln, "serve", "--zeroconf", "--advertise", lab.Address(i),
                    "--listen", $"{lab.Address(i)}:3635", "--http", "off", "--distcc", $"{lab.Address(i)}:3632",
                    "--name", $"kiln node {i}", "--slots", $"{i + 1}", "--data", Path.Combine(lab.WorkDirectory, $"data-{i}"));
            }

            var avahi = await lab.StartAvahiAsync(3, $"{lab.Prefix}avahi");

            // 1. avahi-browse in namespace 3 resolves both Kiln nodes with their TXT.
            string browse = "";
            await NamespaceLab.WaitAsync(async () =>
            {
                browse = (await lab.InAvahiAsync(avahi, "avahi-browse", "-rpt", "_kiln._tcp")).Stdout;
                return ResolvedLines(browse).Count >= 2;
            }, "avahi-browse to resolve both Kiln nodes; kiln-1 log: " + lab.Log("kiln-1"), TimeSpan.FromSeconds(30));
            output.WriteLine(browse);
            foreach (var i in new[] { 1, 2 })
            {
                var line = Assert.Single(ResolvedLines(browse), l => l[3] == $"kiln node {i}");
                // =;iface;IPv4;name;type;domain;host;address;port;txt
                Assert.Equal(("_kiln._tcp", $"kiln-node-{i}.local", lab.Address(i), "3635"), (line[4], line[6], line[7], line[8]));
                var txt = line[9];
                foreach (var expected in new[] { "\"txtvers=1\"", $"\"node=kiln node {i}\"", $"\"slots={i + 1}\"", $"\"free={i + 1}\"", "\"protocols=kiln,distcc\"", "\"cache=1\"", "\"targets=" })
                {
                    Assert.Contains(expected, txt);
                }
            }

            // 2. avahi-publish in namespace 3 is found by 'kiln hosts --browse' in namespace 1, with
            //    the Kiln nodes' _distcc._tcp registrations beside it. Capture avahi's announcement in
            //    namespace 2 while it publishes.
            using var capture = OpenSocketInNamespace(lab.Namespace(2), lab.Address(2));
            using var stopCapture = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var announcement = CaptureAsync(capture, "avahi-build-box._distcc._tcp.local", stopCapture.Token);
            lab.StartInAvahi(avahi, "publish", "avahi-publish", "-s", "avahi-build-box", "_distcc._tcp", "3632", "cpus=2");

            var heard = await announcement;
            var txtRecord = Assert.Single(heard.Answers, r => r.Type == DnsRecordType.Txt && DnsName.Equal(r.Name, "avahi-build-box._distcc._tcp.local"));
            Assert.Equal("2", ((TxtData)txtRecord.Data).Attributes()["cpus"]);

            string hosts = "";
            await NamespaceLab.WaitAsync(async () =>
            {
                var run = await lab.RunAsync(1, kiln, "hosts", "--browse", "--interface", lab.Address(1));
                hosts = run.Stdout;
                return run.ExitCode == 0 && hosts.Contains("avahi-build-box", StringComparison.Ordinal) && hosts.Contains("kiln node 2", StringComparison.Ordinal);
            }, "kiln hosts --browse to list the avahi-published distccd", TimeSpan.FromSeconds(30));
            output.WriteLine(hosts);
            var lines = hosts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(l => l[0] == "zeroconf").ToList();
            var published = Assert.Single(lines, l => l[2] == "avahi-build-box");
            Assert.Equal(("distcc", $"{lab.Address(3)}:3632", "cpus=2"), (published[1], published[3], published[4]));
            foreach (var i in new[] { 1, 2 })
            {
                var node = Assert.Single(lines, l => l[1] == "kiln" && l[2] == $"kiln node {i}");
                Assert.Equal($"{lab.Address(i)}:3635", node[3]);
                Assert.Contains($"slots={i + 1}", node[4]);
                Assert.Contains("protocols=kiln,distcc", node[4]);
                var distcc = Assert.Single(lines, l => l[1] == "distcc" && l[2] == $"kiln node {i}");
                Assert.Equal($"{lab.Address(i)}:3632", distcc[3]);
                Assert.Contains($"jobs={i + 1}", distcc[4]);
            }

            // 3. A stock distcc client with +zeroconf (built with Avahi) browses the subtype of its own
            //    cc (x86_64-linux-gnu, 12) and gets both Kiln nodes; the avahi-published distccd has no
            //    subtype, so it is not listed. Its background browser runs in a private pid namespace
            //    that dies with the client.
            var home = Path.Combine(lab.WorkDirectory, "home");
            Directory.CreateDirectory(home);
            string shown = "";
            await NamespaceLab.WaitAsync(async () =>
            {
                shown = (await lab.InAvahiAsync(avahi, "env", "HOME=" + home, "DISTCC_HOSTS=+zeroconf", "unshare", "--pid", "--fork", "distcc", "--show-hosts")).Stdout;
                return shown.Contains($"{lab.Address(1)}:3632", StringComparison.Ordinal) && shown.Contains($"{lab.Address(2)}:3632", StringComparison.Ordinal);
            }, "distcc +zeroconf to list both Kiln nodes", TimeSpan.FromSeconds(30));
            output.WriteLine(shown);
            var distccHosts = shown.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Contains($"{lab.Address(1)}:3632/2", distccHosts);
            Assert.Contains($"{lab.Address(2)}:3632/3", distccHosts);
            Assert.DoesNotContain(distccHosts, h => h.StartsWith(lab.Address(3), StringComparison.Ordinal));

            // 4. A node stopped with SIGTERM says goodbye: Avahi drops it at once instead of caching it for its TTL.
            await lab.TerminateAsync(nodes[2]);
            await NamespaceLab.WaitAsync(async () =>
            {
                browse = (await lab.InAvahiAsync(avahi, "avahi-browse", "-rpt", "_kiln._tcp")).Stdout;
                var resolved = ResolvedLines(browse);
                return resolved.Count == 1 && resolved[0][3] == "kiln node 1";
            }, "avahi to forget the stopped node", TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>avahi-browse -p "=" lines split into fields, the instance name unescaped (-p writes a space as \\032).</summary>
    private static List<string[]> ResolvedLines(string avahiBrowse) =>
        [.. avahiBrowse.Split('\n').Where(l => l.StartsWith("=;", StringComparison.Ordinal)).Select(l => l.Split(';', 10)).Select(f => f[..3].Append(Unescape(f[3])).Concat(f[4..]).ToArray())];

    private static string Unescape(string avahiName) =>
        System.Text.RegularExpressions.Regex.Replace(avahiName, @"\\(\d{3})", m => ((char)int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToString());

    private static async Task<DnsMessage> CaptureAsync(Socket socket, string instance, CancellationToken cancellationToken)
    {
        var buffer = new byte[9000];
        while (true)
        {
            var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken);
            if (DnsMessageReader.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out var message, out _)
                && message.IsResponse && message.Answers.Any(r => r.Ttl > 0 && DnsName.Equal(r.Name, instance)))
            {
                return message;
            }
        }
    }

    /// <summary>
    /// Opens an mDNS socket inside a named network namespace: a dedicated thread enters the namespace
    /// (setns), creates the socket, which stays in that namespace, and ends.
    /// </summary>
    private static Socket OpenSocketInNamespace(string name, string address)
    {
        Socket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var ns = File.OpenHandle($"/run/netns/{name}");
                if (SetNs(ns.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns {name}: errno {Marshal.GetLastPInvokeError()}");
                }

                socket = MulticastDns.OpenResponderSocket(IPAddress.Parse(address));
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return socket ?? throw new InvalidOperationException("could not open a socket in " + name, failure);
    }

    private const int CloneNewNet = 0x40000000;

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNs(int fd, int nstype);
}
