using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Core.Protocol;
using Kiln.Tests.Cache;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Protocol;

/// <summary>
/// A node that is asked to stop closes the connections its clients keep between requests (the agent's
/// Kiln protocol connections, an HTTP client's keep-alive) at once, instead of waiting for them until
/// its shutdown timeout; and a job in hand when the stop comes is still answered.
/// </summary>
public sealed class GracefulStopTests
{
    private const string Path = "/ccache/01/23456789abcdef0123456789abcdef01234567";

    /// <summary>The node's own cap on a stop (KilnNode.DisposeAsync); kept connections used to hold it this long.</summary>
    private static readonly TimeSpan s_stopCap = TimeSpan.FromSeconds(5);

    private static async Task<Socket> KeptHttpConnectionAsync(TestNode node, byte[] blob)
    {
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            using var put = await http.PutAsync($"http://{node.Node.HttpEndPoint}{Path}", new ByteArrayContent(blob));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(node.Node.HttpEndPoint!);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {Path} HTTP/1.1\r\nHost: node\r\n\r\n"));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = await new RawHttpResponseReader(socket).ReadAsync(cts.Token);
        Assert.Equal(200, answer.Status);
        Assert.Equal(blob, answer.Body);

        return socket;
    }

    [Fact]
    public async Task AStopClosesConnectionsKeptBetweenRequestsAtOnce()
    {
        var node = await TestNode.StartAsync(plaintextLoopback: true);
        using var http = await KeptHttpConnectionAsync(node, Encoding.ASCII.GetBytes("kept between requests\n"));
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello());
        await peer.ReadWelcomeAsync();

        var clock = Stopwatch.StartNew();
        await node.DisposeAsync();
        clock.Stop();
        Assert.True(clock.Elapsed < s_stopCap / 2, $"the stop took {clock.Elapsed.TotalSeconds:0.00} s: kept connections held it");

        // Both were closed by the node, the Kiln protocol one without an error frame.
        Assert.Null(await peer.ReadFrameAsync(TimeSpan.FromSeconds(5)));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(0, await http.ReceiveAsync(new byte[16], cts.Token));
    }

    [Fact]
    public async Task AJobInHandWhenTheStopComesIsStillAnswered()
    {
        var node = await TestNode.StartAsync(plaintextLoopback: true);
        var input = Encoding.ASCII.GetBytes("int answer(void) { return 42; }\nint twice(int x) { return 2 * x; }\n");
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), RawKilnPeer.Job("gcc", ["-O2"], input.Length), RawKilnPeer.Input(input.AsSpan(0, 10), last: false));
        await peer.ReadWelcomeAsync();

        // The stop begins while the job's input is half sent; the rest follows after it.
        var stopping = node.DisposeAsync().AsTask();
        await Task.Delay(300);
        Assert.False(stopping.IsCompleted, "the node stopped with a job in hand");
        await peer.SendAsync(RawKilnPeer.Input(input.AsSpan(10), last: true));
        Assert.True(KilnResult.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Result), out var result, out var error), error?.Message);
        Assert.Equal(0, result.ExitCode);
        Assert.False(result.Object.IsEmpty);

        // Answered, the connection is between jobs: closed, and the stop ends.
        Assert.Null(await peer.ReadFrameAsync(TimeSpan.FromSeconds(5)));
        await stopping.WaitAsync(s_stopCap);
    }
}
