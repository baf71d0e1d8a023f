using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Server.Hosting;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cache;

/// <summary>
/// <c>kiln serve</c> runs its socket completions inline on the runtime's event threads
/// (<see cref="InlineSocketIo"/>), unless the operator set the runtime's switch. These tests run the
/// published program, since the switch is read once per process: what its banner says, that many
/// clients at once get their own bytes, and that connections ended by a reset (as wrk and browsers
/// end them) are closed quietly, with no error in the node's log, while the node serves on.
/// </summary>
public sealed class InlineSocketIoTests
{
    private const string Path = "/ccache/01/23456789abcdef0123456789abcdef01234567";

    private static byte[] Get(string path) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: node\r\n\r\n");

    private static async Task PutAsync(NodeProcess node, string path, byte[] body)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.PutAsync($"http://{node.HttpEndPoint}{path}", new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static async Task<Socket> ConnectAsync(NodeProcess node, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(node.HttpEndPoint, cancellationToken);
        return socket;
    }

    /// <summary>Reads one response, which must be all the connection has received.</summary>
    private static async Task<(int Status, byte[] Body)> ReadResponseAsync(Socket socket, CancellationToken cancellationToken)
    {
        var reader = new RawHttpResponseReader(socket);
        var response = await reader.ReadAsync(cancellationToken);
        Assert.Equal(0, reader.Pending);
        return (response.Status, response.Body);
    }

    /// <summary>Ends the connection with a reset (SO_LINGER 0), as wrk does at the end of a run.</summary>
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    [Fact]
    public async Task ThePublishedNodeRunsItInlineServesManyClientsAndClosesResetConnectionsQuietly()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?> { [InlineSocketIo.Variable] = null });
        Assert.Contains("socket i/o     inline on the runtime's event threads", node.Output, StringComparison.Ordinal);
        var blob = new byte[3000];
        new Random(7).NextBytes(blob);
        await PutAsync(node, Path, blob);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Connections reset between requests, and in the middle of one.
        for (var i = 0; i < 10; i++)
        {
            var socket = await ConnectAsync(node, cts.Token);
            await socket.SendAsync(Get(Path), cts.Token);
            var (status, body) = await ReadResponseAsync(socket, cts.Token);
            Assert.Equal(200, status);
            Assert.Equal(blob, body);
            if (i % 2 == 1)
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {Path} HTTP/1.1\r\nHo"), cts.Token);
            }

            Reset(socket);
        }

        // Sixteen clients at once, each with its own requests in flight: every answer is whole and its own.
        var clients = Enumerable.Range(0, 16).Select(async client =>
        {
            using var socket = await ConnectAsync(node, cts.Token);
            for (var request = 0; request < 50; request++)
            {
                var missing = (client + request) % 5 == 0;
                await socket.SendAsync(Get(missing ? Path.Replace("/01/", "/ff/", StringComparison.Ordinal) : Path), cts.Token);
                var (status, body) = await ReadResponseAsync(socket, cts.Token);
                Assert.Equal(missing ? 404 : 200, status);
                if (!missing)
                {
                    Assert.Equal(blob, body);
                }
            }

            Reset(socket);
        });
        await Task.WhenAll(clients);

        // The routed handlers (a PUT through Kestrel's HTTP layer) still answer on the same node.
        await PutAsync(node, Path.Replace("/01/", "/02/", StringComparison.Ordinal), blob);
        await Task.Delay(200, cts.Token);
        Assert.DoesNotContain("fail:", node.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", node.Output, StringComparison.Ordinal);
        Assert.False(node.HasExited);
    }

    [Fact]
    public async Task AnOperatorsOwnSettingOfTheSwitchIsKept()
    {
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?> { [InlineSocketIo.Variable] = "0" });
        Assert.Contains("socket i/o     through the thread pool", node.Output, StringComparison.Ordinal);
        var blob = Encoding.ASCII.GetBytes("served the pooled way\n");
        await PutAsync(node, Path, blob);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = await ConnectAsync(node, cts.Token);
        await socket.SendAsync(Get(Path), cts.Token);
        var (status, body) = await ReadResponseAsync(socket, cts.Token);
        Assert.Equal(200, status);
        Assert.Equal(blob, body);
    }
}
