using System.Net;
using Kiln.Server.Hosting;

namespace Kiln.Tests.TestKit;

/// <summary>A node hosted in-process on 127.0.0.1 port 0 with its own data directory.</summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly TempDirectory _data;

    private TestNode(KilnNode node, TempDirectory data)
    {
        Node = node;
        _data = data;
    }

    public KilnNode Node { get; }

    public string DataDirectory => _data.Path;

    /// <summary>The node's TLS certificate fingerprint, as clients pin it.</summary>
    public string Fingerprint => Node.TlsFingerprint;

    /// <summary>The node as a KILN_HOSTS entry, its certificate pinned: <c>127.0.0.1:PORT,fp=HEX</c> (a limit goes before the comma).</summary>
    public string KilnHost(int? limit = null) => $"{Node.KilnEndPoint}{(limit is null ? "" : "/" + limit)},fp={Fingerprint}";

    /// <summary>
    /// Starts a node. The Kiln protocol is TLS as in production; <paramref name="plaintextLoopback"/>
    /// also serves plaintext to loopback peers, for tests that send raw frames.
    /// </summary>
    public static async Task<TestNode> StartAsync(int slots = 2, bool distcc = false, Action<KilnNodeOptions>? configure = null, bool plaintextLoopback = false)
    {
        var data = new TempDirectory("kiln-node");
        var options = new KilnNodeOptions
        {
            DataDirectory = data.Path,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Http = new IPEndPoint(IPAddress.Loopback, 0),
            Distcc = distcc ? new IPEndPoint(IPAddress.Loopback, 0) : null,
            Slots = slots,
            NodeName = "test-node",
            PlaintextLoopback = plaintextLoopback,
        };
        configure?.Invoke(options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var node = await KilnNode.StartAsync(options, cts.Token, logging: _ => { });
        return new TestNode(node, data);
    }

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        _data.Dispose();
    }
}
