using System.Net;
using Build.Bazel.Remote.Execution.V2;
using Google.Bytestream;
using Google.Protobuf;
using Kiln.Server.Grpc;
using Digest = Kiln.Core.Hashing.Digest;

namespace Kiln.Tests.Grpc;

/// <summary>
/// Broken and hostile calls: each ends with a clear gRPC status, and the node answers the next
/// call as usual. All run against one node, so any damage would show in the calls after it.
/// </summary>
public sealed class GrpcHostileTests : IAsyncLifetime
{
    private const int InvalidArgument = 3, ResourceExhausted = 8, Unimplemented = 12, Internal = 13;

    private GrpcNode _node = null!;

    public async Task InitializeAsync() => _node = await GrpcNode.StartAsync();

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private async Task StillServingAsync()
    {
        var (reply, caps) = await _node.Client.UnaryAsync(CapabilitiesService.GetCapabilitiesPath, new GetCapabilitiesRequest(), ServerCapabilities.Parser);
        reply.Expect(0);
        Assert.NotNull(caps?.CacheCapabilities);
    }

    private static byte[] Capabilities => GrpcTestClient.Frame(new GetCapabilitiesRequest { InstanceName = "x" });

    [Theory]
    [InlineData(new byte[] { 7, 0, 0, 0, 0 }, Internal, "compressed flag")]
    [InlineData(new byte[] { 1, 0, 0, 0, 0 }, Internal, "grpc-encoding")]
    [InlineData(new byte[] { 0, 0, 0 }, Internal, "prefix")]
    [InlineData(new byte[] { 0, 0, 0, 0, 9, 1, 2, 3 }, Internal, "3 of 9 bytes")]
    [InlineData(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0xFF }, ResourceExhausted, "larger than the limit")]
    [InlineData(new byte[] { 0, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF }, InvalidArgument, "not a valid GetCapabilitiesRequest")]
    [InlineData(new byte[] { }, Internal, "without a message")]
    public async Task MalformedFramesGetAClearStatus(byte[] body, int code, string says)
    {
        var reply = (await _node.Client.CallRawAsync(CapabilitiesService.GetCapabilitiesPath, body)).Expect(code);
        Assert.Contains(says, reply.Message);
        await StillServingAsync();
    }

    [Fact]
    public async Task OversizeMessageIsRefusedBeforeItArrives()
    {
        // A real 9 MiB message, above the 8 MiB receive limit.
        var huge = new FindMissingBlobsRequest { InstanceName = new string('i', (9 << 20) - 16) };
        var reply = (await _node.Client.CallAsync(ContentStorageService.FindMissingBlobsPath, huge)).Expect(ResourceExhausted);
        Assert.Contains("larger than the limit", reply.Message);
        await StillServingAsync();
    }

    [Fact]
    public async Task TwoMessagesOnAUnaryCallAreRefused()
    {
        var reply = (await _node.Client.CallRawAsync(CapabilitiesService.GetCapabilitiesPath, [.. Capabilities, .. Capabilities])).Expect(Internal);
        Assert.Contains("one request message", reply.Message);
        await StillServingAsync();
    }

    [Theory]
    [InlineData("/build.bazel.remote.execution.v2.Execution/Execute")]
    [InlineData("/build.bazel.remote.execution.v2.ContentAddressableStorage/GetTree")]
    [InlineData("/no.such.Service/Method")]
    [InlineData("/api/stats")]
    public async Task UnknownMethodsAreUnimplemented(string path)
    {
        var reply = (await _node.Client.CallRawAsync(path, Capabilities)).Expect(Unimplemented);
        Assert.Contains(path, reply.Message);
        await StillServingAsync();
    }

    [Fact]
    public async Task NonGrpcContentTypeIs415()
    {
        var reply = await _node.Client.CallRawAsync(CapabilitiesService.GetCapabilitiesPath, Capabilities, "application/json");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, reply.HttpStatus);
        Assert.Equal(Internal, reply.Status);
        await StillServingAsync();
    }

    [Theory]
    [InlineData("")]
    [InlineData("blobs/zz/5")]
    [InlineData("../../etc/passwd")]
    [InlineData("uploads/u/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0")]
    [InlineData("compressed-blobs/zstd/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0")]
    public async Task WrongReadResourceNamesAreInvalid(string name)
    {
        var reply = (await _node.Client.CallAsync(ByteStreamService.ReadPath, new ReadRequest { ResourceName = name })).Expect(InvalidArgument);
        Assert.NotEmpty(reply.Message);
        await StillServingAsync();
    }

    [Theory]
    [InlineData("blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0")]
    [InlineData("uploads/u/blobs/e3b0/0")]
    [InlineData("uploads/u/compressed-blobs/zstd/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0")]
    public async Task WrongWriteResourceNamesAreInvalid(string name)
    {
        (await _node.Client.CallAsync(ByteStreamService.WritePath, new WriteRequest { ResourceName = name, FinishWrite = true })).Expect(InvalidArgument);
        (await _node.Client.CallAsync(ByteStreamService.QueryWriteStatusPath, new QueryWriteStatusRequest { ResourceName = name })).Expect(InvalidArgument);
        await StillServingAsync();
    }

    [Fact]
    public async Task BrokenWriteStreamsAreInvalidAndStoreNothing()
    {
        var blob = new byte[30_000];
        new Random(21).NextBytes(blob);
        var d = DigestMessages.ToMessage(Digest.FromBytes(blob));
        var name = $"uploads/0b8e/blobs/{d.Hash}/{d.SizeBytes}";
        WriteRequest Part(int offset, int length, bool finish, string resource = "") =>
            new() { ResourceName = resource, WriteOffset = offset, Data = ByteString.CopyFrom(blob, offset, length), FinishWrite = finish };

        // A gap in the offsets.
        var reply = (await _node.Client.CallAsync(ByteStreamService.WritePath, Part(0, 10_000, false, name), Part(20_000, 10_000, true))).Expect(InvalidArgument);
        Assert.Contains("write_offset", reply.Message);
        // The stream ends without finish_write.
        reply = (await _node.Client.CallAsync(ByteStreamService.WritePath, Part(0, 10_000, false, name), Part(10_000, 20_000, false))).Expect(InvalidArgument);
        Assert.Contains("finish_write", reply.Message);
        // The resource name changes mid-stream.
        reply = (await _node.Client.CallAsync(ByteStreamService.WritePath, Part(0, 10_000, false, name), Part(10_000, 20_000, true, name.Replace("0b8e", "ffff", StringComparison.Ordinal)))).Expect(InvalidArgument);
        Assert.Contains("resource_name", reply.Message);
        // More data than the digest's size.
        reply = (await _node.Client.CallAsync(ByteStreamService.WritePath, Part(0, 30_000, false, name), new WriteRequest { WriteOffset = 30_000, Data = ByteString.CopyFrom(blob, 0, 10), FinishWrite = true })).Expect(InvalidArgument);
        Assert.Contains("more data", reply.Message);
        // Garbage after a good first message.
        reply = (await _node.Client.CallRawAsync(ByteStreamService.WritePath, [.. GrpcTestClient.Frame(Part(0, 10_000, false, name)), 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF])).Expect(InvalidArgument);
        Assert.Contains("not a valid WriteRequest", reply.Message);
        // Resuming at an offset nothing was committed to.
        (await _node.Client.CallAsync(ByteStreamService.WritePath, Part(10_000, 20_000, true, name))).Expect(InvalidArgument);

        var (_, missing) = await _node.Client.UnaryAsync(ContentStorageService.FindMissingBlobsPath,
            new FindMissingBlobsRequest { BlobDigests = { d } }, FindMissingBlobsResponse.Parser);
        Assert.Equal([d], missing!.MissingBlobDigests);
        await StillServingAsync();
    }

    [Fact]
    public async Task InvalidDigestsInRequestsAreInvalid()
    {
        var bad = new Build.Bazel.Remote.Execution.V2.Digest { Hash = "not-hex", SizeBytes = 1 };
        (await _node.Client.CallAsync(ContentStorageService.FindMissingBlobsPath, new FindMissingBlobsRequest { BlobDigests = { bad } })).Expect(InvalidArgument);
        var (reply, read) = await _node.Client.UnaryAsync(ContentStorageService.BatchReadBlobsPath,
            new BatchReadBlobsRequest { Digests = { bad } }, BatchReadBlobsResponse.Parser);
        reply.Expect(0);
        Assert.Equal(InvalidArgument, read!.Responses.Single().Status.Code);
        (await _node.Client.CallAsync(ContentStorageService.FindMissingBlobsPath,
            new FindMissingBlobsRequest { DigestFunction = DigestFunction.Types.Value.Blake3 })).Expect(InvalidArgument);
        await StillServingAsync();
    }

    [Fact]
    public async Task GrpcMethodsDoNotExistOnTheHttpListener()
    {
        var http = _node.Node.Node.HttpEndPoint!;
        using var client = new HttpClient { BaseAddress = new Uri($"http://{http.Address}:{http.Port}") };
        using var content = new ByteArrayContent(Capabilities);
        content.Headers.ContentType = new("application/grpc");
        using var response = await client.PostAsync(CapabilitiesService.GetCapabilitiesPath, content);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await StillServingAsync();
    }
}
