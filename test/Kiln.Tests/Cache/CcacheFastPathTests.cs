using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Server.Cache;
using Kiln.Tests.Security;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.Cache;

/// <summary>
/// The ccache GET fast path on the HTTP connection (<c>CcacheFastPath</c>): its answers are the
/// routed handler's, byte for byte apart from the headers Kestrel adds; requests it does not take
/// (a PUT, a hostile head, missing credentials) reach Kestrel intact, even pipelined behind ones it
/// took; and a request that trickles in is still answered.
/// </summary>
public sealed class CcacheFastPathTests
{
    private const string Key = "0123456789abcdef0123456789abcdef01234567";
    private const string Path = "/ccache/01/23456789abcdef0123456789abcdef01234567";
    private const string MissingPath = "/ccache/ff/23456789abcdef0123456789abcdef01234567";

    private static readonly byte[] s_blob = Encoding.ASCII.GetBytes("a small ccache entry\n");

    private static async Task PutAsync(Uri server, string path, byte[] body)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.PutAsync(path, new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private static Uri Http(TestNode node) => new($"http://{node.Node.HttpEndPoint}/");

    /// <summary>Sends <paramref name="request"/> in pieces of <paramref name="piece"/> bytes, then reads <paramref name="count"/> responses.</summary>
    private static async Task<List<RawHttpResponse>> ExchangeAsync(Uri server, byte[] request, int count, bool[]? heads = null, int piece = 0)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(server.Host, server.Port, cts.Token);
        if (piece <= 0)
        {
            await socket.SendAsync(request, cts.Token);
        }
        else
        {
            for (var i = 0; i < request.Length; i += piece)
            {
                await socket.SendAsync(request.AsMemory(i, Math.Min(piece, request.Length - i)), cts.Token);
                await Task.Delay(2, cts.Token);
            }
        }

        var reader = new RawHttpResponseReader(socket);
        var responses = new List<RawHttpResponse>();
        while (responses.Count < count)
        {
            responses.Add(await reader.ReadAsync(cts.Token, heads?[responses.Count] ?? false));
        }

        return responses;
    }

    private static byte[] Get(string path, string method = "GET", string extra = "") =>
        Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: node\r\n{extra}\r\n");

    [Fact]
    public async Task ItsAnswersAreTheRoutedHandlersForHitsMissesAndHeads()
    {
        await using var fast = await TestNode.StartAsync();
        await using var routed = await TestNode.StartAsync(configure: o => o.HttpFastPath = false);
        foreach (var node in (TestNode[])[fast, routed])
        {
            await PutAsync(Http(node), Path, s_blob);
        }

        var request = (byte[])[.. Get(Path), .. Get(Path, "HEAD"), .. Get(MissingPath), .. Get(MissingPath, "HEAD")];
        bool[] heads = [false, true, false, true];
        var a = await ExchangeAsync(Http(fast), request, 4, heads);
        var b = await ExchangeAsync(Http(routed), request, 4, heads);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(b[i].Status, a[i].Status);
            Assert.Equal(b[i].Body, a[i].Body);
            foreach (var header in (string[])["content-length", "content-type"])
            {
                Assert.Equal(b[i].Headers[header], a[i].Headers[header]);
            }

            Assert.True(a[i].Headers.ContainsKey("date"));
        }

        Assert.Equal([200, 200, 404, 404], a.Select(r => r.Status));
        Assert.Equal(s_blob, a[0].Body);

        // The counters see the same traffic either way.
        var fastCounters = fast.Node.Services.GetRequiredService<CacheCounters>().Ccache;
        var routedCounters = routed.Node.Services.GetRequiredService<CacheCounters>().Ccache;
        Assert.Equal(routedCounters.Hits, fastCounters.Hits);
        Assert.Equal(routedCounters.Misses, fastCounters.Misses);
        Assert.Equal(2, fastCounters.Hits);
    }

    [Fact]
    public async Task RequestsItDoesNotTakeReachKestrelIntactEvenPipelinedBehindOnesItTook()
    {
        await using var node = await TestNode.StartAsync();
        await PutAsync(Http(node), Path, s_blob);
        var other = Encoding.ASCII.GetBytes("another entry");
        var put = Encoding.ASCII.GetBytes($"PUT {MissingPath} HTTP/1.1\r\nHost: node\r\nContent-Length: {other.Length}\r\n\r\n");
        var request = (byte[])[.. Get(Path), .. Get(MissingPath), .. put, .. other, .. Get(MissingPath)];
        var responses = await ExchangeAsync(Http(node), request, 4);
        Assert.Equal([200, 404, 201, 200], responses.Select(r => r.Status));
        Assert.Equal(s_blob, responses[0].Body);
        Assert.Equal(other, responses[3].Body);
    }

    [Fact]
    public async Task ARequestThatTricklesInIsAnswered()
    {
        await using var node = await TestNode.StartAsync();
        await PutAsync(Http(node), Path, s_blob);
        var responses = await ExchangeAsync(Http(node), [.. Get(Path), .. Get(Path)], 2, piece: 3);
        Assert.Equal([200, 200], responses.Select(r => r.Status));
        Assert.All(responses, r => Assert.Equal(s_blob, r.Body));
    }

    [Theory]
    [InlineData("GET /ccache/01/..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: node\r\n\r\n", 400)]
    [InlineData("GET /ccache/01/23456789abcdef0123456789abcdef01234567 HTTP/1.1\r\nHost: node\r\nHost: other\r\n\r\n", 400)]
    [InlineData("GET /ccache/01/23456789abcdef0123456789abcdef01234567 HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET /ccache/01/23456789abcdef0123456789abcdef01234567 HTTP/1.1\r\nHost: node\r\n folded: value\r\n\r\n", 400)]
    [InlineData("GET /ccache/zz HTTP/1.1\r\nHost: node\r\n\r\n", 400)]
    [InlineData("GET /ccache/01/23456789abcdef0123456789abcdef01234567 HTTP/1.0\r\n\r\n", 200)]
    public async Task OtherHeadsGetKestrelsAnswerAndTheNodeServesOn(string head, int status)
    {
        await using var node = await TestNode.StartAsync();
        await PutAsync(Http(node), Path, s_blob);
        var answer = await ExchangeAsync(Http(node), Encoding.ASCII.GetBytes(head), 1);
        Assert.Equal(status, answer[0].Status);
        Assert.True(answer[0].Headers.ContainsKey("server"), "Kestrel (which names itself) should have answered");
        var responses = await ExchangeAsync(Http(node), Get(Path), 1);
        Assert.Equal(s_blob, responses[0].Body);
    }

    [Fact]
    public async Task AnOversizeHeadIsRefusedByKestrel()
    {
        await using var node = await TestNode.StartAsync();
        var (status, text) = await RawHttp.ExchangeAsync(Http(node), $"GET {Path} HTTP/1.1\r\nX-Long: {new string('x', 40_000)}");
        Assert.True(status == 431, text);
    }

    [Fact]
    public async Task WithTokensOnlyAReaderIsAnsweredAndTheRestGetKestrels401()
    {
        await using var secured = await SecuredNode.StartAsync();
        using (var writer = secured.HttpClient("Bearer " + secured.Write))
        {
            using var put = await writer.PutAsync(Path, new ByteArrayContent(s_blob));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var anonymous = await ExchangeAsync(secured.Http, Get(Path), 1);
        Assert.Equal(401, anonymous[0].Status);
        Assert.Contains("Bearer", anonymous[0].Headers["www-authenticate"], StringComparison.Ordinal);

        var wrong = await ExchangeAsync(secured.Http, Get(Path, extra: "Authorization: Bearer not-a-token\r\n"), 1);
        Assert.Equal(401, wrong[0].Status);

        var reader = await ExchangeAsync(secured.Http, Get(Path, extra: $"Authorization: Bearer {secured.Read}\r\n"), 1);
        Assert.Equal(200, reader[0].Status);
        Assert.Equal(s_blob, reader[0].Body);

        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("ccache:" + secured.Read));
        var viaUrl = await ExchangeAsync(secured.Http, Get(Path, extra: $"Authorization: Basic {basic}\r\n"), 1);
        Assert.Equal(200, viaUrl[0].Status);
    }
}
