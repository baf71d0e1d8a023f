using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Core.Security;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

/// <summary>TLS on the Kiln protocol: the node's certificate, pinning, trust on first use, and the plaintext opt-out.</summary>
public sealed class KilnTransportTests
{
    private static async Task<RemoteCompileReply> CompileAsync(HostSpec host, KilnClientOptions? options = null)
    {
        using var client = new KilnProtocolClient(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), cts.Token);
    }

    [Fact]
    public async Task Node_makes_its_certificate_on_first_start_and_keeps_it()
    {
        using var data = new TempDirectory("kiln-cert-node");
        string first;
        await using (var node = await TestNode.StartAsync(configure: o => o.DataDirectory = data.Path))
        {
            Assert.True(node.Node.TlsCertificateCreated);
            first = node.Fingerprint;
            Assert.Matches("^[0-9a-f]{64}$", first);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(data.Combine("tls", "node.pfx")));
        await using var again = await TestNode.StartAsync(configure: o => o.DataDirectory = data.Path);
        Assert.False(again.Node.TlsCertificateCreated);
        Assert.Equal(first, again.Fingerprint);
    }

    [Fact]
    public async Task Wrong_pinned_fingerprint_is_refused_before_anything_is_sent()
    {
        await using var node = await TestNode.StartAsync();
        var wrong = new string('a', 64);
        var reply = await CompileAsync(ProtocolTestKit.Host(node) with { Fingerprint = wrong });
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains($"REFUSED: the node's certificate has fingerprint {node.Fingerprint}, but KILN_HOSTS pins {wrong}", reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Counters.KilnJobs);
    }

    [Fact]
    public async Task Unpinned_node_without_known_hosts_is_refused()
    {
        await using var node = await TestNode.StartAsync();
        var reply = await CompileAsync(ProtocolTestKit.Host(node) with { Fingerprint = null });
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains($"no fingerprint pinned for this node (its certificate is {node.Fingerprint})", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task First_use_is_trusted_loudly_once_then_a_changed_certificate_is_refused()
    {
        await using var node = await TestNode.StartAsync();
        using var state = new TempDirectory("kiln-known-hosts");
        var notices = new List<string>();
        var options = new KilnClientOptions { KnownHosts = new KnownHosts(state.Combine("known_hosts")), Notice = notices.Add };
        var host = ProtocolTestKit.Host(node) with { Fingerprint = null };

        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(host, options)).Status);
        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(host, options)).Status);
        var notice = Assert.Single(notices);
        Assert.Contains($"WARNING: trusting node {host.Display} on first use", notice, StringComparison.Ordinal);
        Assert.Contains(node.Fingerprint, notice, StringComparison.Ordinal);
        Assert.Equal($"{host.Display} {node.Fingerprint}\n", File.ReadAllText(state.Combine("known_hosts")));

        // Another node on a port the file remembers with a different certificate: an impostor.
        File.WriteAllText(state.Combine("known_hosts"), $"{host.Display} {new string('b', 64)}\n");
        var refused = await CompileAsync(host, options);
        Assert.Equal(RemoteStatus.Failed, refused.Status);
        Assert.Contains("REFUSED", refused.Message, StringComparison.Ordinal);
        Assert.Contains("known_hosts recorded", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2, node.Node.Counters.KilnJobs);
    }

    [Fact]
    public async Task Plaintext_client_to_a_default_node_hears_that_it_speaks_tls_and_is_audited()
    {
        await using var node = await TestNode.StartAsync();
        var reply = await CompileAsync(ProtocolTestKit.Host(node.Node.KilnEndPoint));
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("over TLS 1.3 only", reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Counters.KilnJobs);
        var refusal = Assert.Single(SecuredNode.AuditLines(node.DataDirectory));
        Assert.Equal(("kiln", "connect", "refused"), (refusal.GetProperty("listener").GetString(), refusal.GetProperty("action").GetString(), refusal.GetProperty("outcome").GetString()));
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task Plaintext_loopback_opt_out_serves_both_in_one_node()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(ProtocolTestKit.Host(node.Node.KilnEndPoint))).Status);
        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(ProtocolTestKit.Host(node))).Status);
    }

    [Fact]
    public async Task Garbage_tls_handshake_is_closed_and_the_node_keeps_serving()
    {
        await using var node = await TestNode.StartAsync();
        using (var peer = new System.Net.Sockets.TcpClient())
        {
            await peer.ConnectAsync(node.Node.KilnEndPoint);
            var stream = peer.GetStream();

            // A TLS record header that announces a handshake, then noise: at most a TLS alert comes back, then the end.
            await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x40 }.Concat(new byte[64]).ToArray());
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var buffer = new byte[256];
            var total = 0;
            try
            {
                int got;
                while ((got = await stream.ReadAsync(buffer, cts.Token)) > 0)
                {
                    total += got;
                }
            }
            catch (IOException)
            {
                // A reset is a close too.
            }

            Assert.True(total < 64, $"{total} bytes came back for a garbage handshake");
        }

        await Wait.UntilAsync(() => SecuredNode.AuditLines(node.DataDirectory).Any(e => e.GetProperty("action").GetString() == "tls"), "the failed handshake to be audited");
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Theory]
    [InlineData("node:3635,fp=AB:CD", "a fingerprint is the 64 hex characters")]
    [InlineData("10.0.0.5,plain", "',plain' (no TLS) is only for loopback addresses")]
    public void Host_list_checks_pins_and_plaintext(string text, string error)
    {
        var list = HostListParser.Parse(text);
        Assert.Empty(list.Hosts);
        Assert.Contains(list.Errors, e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void Host_list_reads_a_pin()
    {
        var fp = string.Concat(Enumerable.Repeat("0123456789ABCDEF", 4));
        var host = Assert.Single(HostListParser.Parse($"node:3635/4,fp={fp} 127.0.0.1,plain").Hosts.Take(1));
        Assert.Equal(fp.ToLowerInvariant(), host.Fingerprint);
        Assert.True(HostListParser.Parse("127.0.0.1,plain").Hosts[0].Plaintext);
    }
}
