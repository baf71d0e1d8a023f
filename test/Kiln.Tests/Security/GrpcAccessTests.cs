using Build.Bazel.Remote.Execution.V2;
using Google.Protobuf;
using Kiln.Server.Grpc;
using Kiln.Tests.Grpc;
using Digest = Kiln.Core.Hashing.Digest;

namespace Kiln.Tests.Security;

/// <summary>The gRPC listener's rows of docs/security.md: tokens in the <c>authorization</c> metadata, as Bazel's --remote_header sends them.</summary>
public sealed class GrpcAccessTests
{
    private const int Ok = 0;
    private const int PermissionDenied = 7;
    private const int Unauthenticated = 16;

    private static readonly byte[] s_blob = "grpc blob\n"u8.ToArray();

    private static BatchUpdateBlobsRequest Upload() => new()
    {
        Requests = { new BatchUpdateBlobsRequest.Types.Request { Digest = DigestMessages.ToMessage(Digest.FromBytes(s_blob)), Data = ByteString.CopyFrom(s_blob) } },
    };

    private static FindMissingBlobsRequest Find() => new() { BlobDigests = { DigestMessages.ToMessage(Digest.FromBytes(s_blob)) } };

    [Fact]
    public async Task Grpc_no_credentials_is_unauthenticated()
    {
        await using var node = await SecuredNode.StartAsync();
        using var client = new GrpcTestClient(node.Node.Node.GrpcEndPoint!);
        var reply = await client.CallAsync(CapabilitiesService.GetCapabilitiesPath, new GetCapabilitiesRequest());
        reply.Expect(Unauthenticated);
        Assert.True(reply.TrailersOnly);
        Assert.Contains("no credentials", reply.Message, StringComparison.Ordinal);
        (await client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, Upload())).Expect(Unauthenticated);
        client.Authorization = "Bearer kiln_000000000000_nope";
        (await client.CallAsync(ContentStorageService.FindMissingBlobsPath, Find())).Expect(Unauthenticated);
    }

    [Fact]
    public async Task Grpc_read_token_may_look_up_but_not_upload()
    {
        await using var node = await SecuredNode.StartAsync();
        using var client = new GrpcTestClient(node.Node.Node.GrpcEndPoint!) { Authorization = "Bearer " + node.Read };
        (await client.CallAsync(ContentStorageService.FindMissingBlobsPath, Find())).Expect(Ok);
        var refused = await client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, Upload());
        refused.Expect(PermissionDenied);
        Assert.Contains("has role read; this request needs write", refused.Message, StringComparison.Ordinal);
        (await client.CallAsync(ActionCacheService.UpdateActionResultPath, new UpdateActionResultRequest())).Expect(PermissionDenied);
    }

    [Fact]
    public async Task Grpc_write_token_uploads()
    {
        await using var node = await SecuredNode.StartAsync();
        using var client = new GrpcTestClient(node.Node.Node.GrpcEndPoint!) { Authorization = "Bearer " + node.Write };
        var (reply, response) = await client.UnaryAsync(ContentStorageService.BatchUpdateBlobsPath, Upload(), BatchUpdateBlobsResponse.Parser);
        reply.Expect(Ok);
        Assert.Equal(Ok, response!.Responses.Single().Status.Code);
        var (_, missing) = await client.UnaryAsync(ContentStorageService.FindMissingBlobsPath, Find(), FindMissingBlobsResponse.Parser);
        Assert.Empty(missing!.MissingBlobDigests);
    }
}
