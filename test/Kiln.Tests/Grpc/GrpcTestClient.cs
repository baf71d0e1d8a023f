using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Kiln.Tests.Grpc;

/// <summary>
/// A minimal gRPC client on HttpClient (HTTP/2 over cleartext with prior knowledge, as Bazel's
/// grpc:// does). It frames requests itself, independently of the server's codec, and returns the
/// raw reply: HTTP status, grpc-status and grpc-message (from trailers or Trailers-Only headers),
/// and the response messages.
/// </summary>
public sealed class GrpcTestClient : IDisposable
{
    private readonly HttpClient _http;

    public GrpcTestClient(IPEndPoint endPoint)
    {
        _http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
        {
            BaseAddress = new Uri($"http://{endPoint.Address}:{endPoint.Port}"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    /// <summary>The <c>authorization</c> metadata sent with every call (as Bazel's --remote_header), or null.</summary>
    public string? Authorization { get; set; }

    /// <summary>One gRPC message frame: flag 0, big-endian length, body.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> body, byte flag = 0)
    {
        var frame = new byte[5 + body.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
        body.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    /// <summary>Sends <paramref name="body"/> as the whole request stream of a call.</summary>
    public Task<GrpcReply> CallRawAsync(string path, byte[] body, string contentType = "application/grpc") =>
        SendAsync(path, new ByteArrayContent(body), contentType);

    /// <summary>Sends the framed <paramref name="requests"/> as one request stream.</summary>
    public Task<GrpcReply> CallAsync(string path, params IMessage[] requests) =>
        CallRawAsync(path, [.. requests.SelectMany(Frame)]);

    /// <summary>A unary call: the reply and its one response message (or null).</summary>
    public async Task<(GrpcReply Reply, T? Response)> UnaryAsync<T>(string path, IMessage request, MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        var reply = await CallAsync(path, request);
        return (reply, reply.Messages.Count == 1 ? parser.ParseFrom(reply.Messages[0]) : null);
    }

    public async Task<GrpcReply> SendAsync(string path, HttpContent content, string contentType = "application/grpc")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (Authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("authorization", Authorization);
        }
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpVersion.Version20, response.Version);
        var body = await response.Content.ReadAsByteArrayAsync();
        return GrpcReply.From(response, body);
    }

    public void Dispose() => _http.Dispose();
}
