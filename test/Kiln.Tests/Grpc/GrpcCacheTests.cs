using Build.Bazel.Remote.Execution.V2;
using Google.Bytestream;
using Google.Protobuf;
using Kiln.Server.Grpc;
using Digest = Kiln.Core.Hashing.Digest;
using ProtoDigest = Build.Bazel.Remote.Execution.V2.Digest;

namespace Kiln.Tests.Grpc;

/// <summary>Each REAPI cache method against an in-process node over real HTTP/2 (h2c).</summary>
public sealed class GrpcCacheTests
{
    private const int Ok = 0, InvalidArgument = 3, NotFound = 5, FailedPrecondition = 9, OutOfRange = 11;

    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static ProtoDigest D(byte[] data) => DigestMessages.ToMessage(Digest.FromBytes(data));

    private static string UploadName(ProtoDigest d, string instance = "") =>
        $"{(instance.Length > 0 ? instance + "/" : "")}uploads/3f1c0b9e-8a51-4c6e-b7a0-6d2c4f0e9a11/blobs/{d.Hash}/{d.SizeBytes}";

    private static string ReadName(ProtoDigest d) => $"blobs/{d.Hash}/{d.SizeBytes}";

    [Fact]
    public async Task CapabilitiesAdvertiseSha256UpdatesAndApi20To23()
    {
        await using var node = await GrpcNode.StartAsync();
        var (reply, caps) = await node.Client.UnaryAsync(CapabilitiesService.GetCapabilitiesPath, new GetCapabilitiesRequest(), ServerCapabilities.Parser);
        reply.Expect(Ok);
        Assert.Equal("application/grpc", reply.ContentType);
        Assert.False(reply.TrailersOnly);
        Assert.NotNull(caps);
        Assert.Equal([DigestFunction.Types.Value.Sha256], caps.CacheCapabilities.DigestFunctions);
        Assert.True(caps.CacheCapabilities.ActionCacheUpdateCapabilities.UpdateEnabled);
        Assert.Equal(GrpcLimits.MaxBatchTotalSize, caps.CacheCapabilities.MaxBatchTotalSizeBytes);
        Assert.Empty(caps.CacheCapabilities.SupportedCompressors);
        Assert.Equal((2, 0), (caps.LowApiVersion.Major, caps.LowApiVersion.Minor));
        Assert.Equal((2, 3), (caps.HighApiVersion.Major, caps.HighApiVersion.Minor));
    }

    [Fact]
    public async Task BatchUpdateFindMissingAndBatchReadAgree()
    {
        await using var node = await GrpcNode.StartAsync();
        var good = Bytes(1000, 1);
        var other = Bytes(2000, 2);
        var liar = Bytes(300, 3);
        var empty = Array.Empty<byte>();

        var (reply, missing) = await node.Client.UnaryAsync(ContentStorageService.FindMissingBlobsPath,
            new FindMissingBlobsRequest { BlobDigests = { D(good), D(other), D(empty) } }, FindMissingBlobsResponse.Parser);
        reply.Expect(Ok);
        Assert.Equal([D(good), D(other)], missing!.MissingBlobDigests);

        var update = new BatchUpdateBlobsRequest
        {
            Requests =
            {
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(good), Data = ByteString.CopyFrom(good) },
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(liar), Data = ByteString.CopyFrom(other.AsSpan(0, 300)) },
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(empty), Data = ByteString.Empty },
            },
        };
        var (updateReply, updated) = await node.Client.UnaryAsync(ContentStorageService.BatchUpdateBlobsPath, update, BatchUpdateBlobsResponse.Parser);
        updateReply.Expect(Ok);
        Assert.Equal([Ok, InvalidArgument, Ok], updated!.Responses.Select(r => r.Status.Code));
        Assert.Equal([D(good), D(liar), D(empty)], updated.Responses.Select(r => r.Digest));

        (reply, missing) = await node.Client.UnaryAsync(ContentStorageService.FindMissingBlobsPath,
            new FindMissingBlobsRequest { BlobDigests = { D(good), D(other), D(liar), D(empty) } }, FindMissingBlobsResponse.Parser);
        reply.Expect(Ok);
        Assert.Equal([D(other), D(liar)], missing!.MissingBlobDigests);

        var (readReply, read) = await node.Client.UnaryAsync(ContentStorageService.BatchReadBlobsPath,
            new BatchReadBlobsRequest { Digests = { D(good), D(liar), D(empty) } }, BatchReadBlobsResponse.Parser);
        readReply.Expect(Ok);
        Assert.Equal([Ok, NotFound, Ok], read!.Responses.Select(r => r.Status.Code));
        Assert.Equal(good, read.Responses[0].Data.ToByteArray());
        Assert.True(read.Responses[2].Data.IsEmpty);
    }

    [Fact]
    public async Task BatchesAboveTheAdvertisedLimitAreRefused()
    {
        await using var node = await GrpcNode.StartAsync();
        var big = Bytes(GrpcLimits.MaxBatchTotalSize / 2 + 1, 4);
        var other = Bytes(GrpcLimits.MaxBatchTotalSize / 2 + 1, 5);
        var reply = await node.Client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, new BatchUpdateBlobsRequest
        {
            Requests =
            {
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(big), Data = ByteString.CopyFrom(big) },
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(other), Data = ByteString.CopyFrom(other) },
            },
        });
        reply.Expect(InvalidArgument);
        Assert.Contains("max_batch_total_size_bytes", reply.Message);

        reply = await node.Client.CallAsync(ContentStorageService.BatchReadBlobsPath, new BatchReadBlobsRequest { Digests = { D(big), D(other) } });
        reply.Expect(InvalidArgument);
    }

    [Fact]
    public async Task ByteStreamWriteThenReadWholeAndRanges()
    {
        await using var node = await GrpcNode.StartAsync();
        var blob = Bytes(200_000, 6);
        var d = D(blob);
        var requests = new List<IMessage>();
        for (var offset = 0; offset < blob.Length; offset += 16384)
        {
            var n = Math.Min(16384, blob.Length - offset);
            requests.Add(new WriteRequest
            {
                ResourceName = offset == 0 ? UploadName(d, "main") : "",
                WriteOffset = offset,
                Data = ByteString.CopyFrom(blob, offset, n),
                FinishWrite = offset + n == blob.Length,
            });
        }

        var written = (await node.Client.CallAsync(ByteStreamService.WritePath, [.. requests])).Expect(Ok);
        Assert.Equal(blob.Length, WriteResponse.Parser.ParseFrom(written.Messages.Single()).CommittedSize);

        var (status, _) = await node.Client.UnaryAsync(ByteStreamService.QueryWriteStatusPath,
            new QueryWriteStatusRequest { ResourceName = UploadName(d) }, QueryWriteStatusResponse.Parser);
        status.Expect(Ok);

        var whole = (await node.Client.CallAsync(ByteStreamService.ReadPath, new ReadRequest { ResourceName = ReadName(d) })).Expect(Ok);
        var chunks = whole.Messages.Select(m => ReadResponse.Parser.ParseFrom(m).Data.ToByteArray()).ToList();
        Assert.All(chunks, c => Assert.InRange(c.Length, 1, GrpcLimits.ReadChunkSize));
        Assert.Equal(blob, chunks.SelectMany(c => c).ToArray());

        var range = (await node.Client.CallAsync(ByteStreamService.ReadPath,
            new ReadRequest { ResourceName = "main/" + ReadName(d), ReadOffset = 70_000, ReadLimit = 100_000 })).Expect(Ok);
        Assert.Equal(blob.AsSpan(70_000, 100_000).ToArray(), range.Messages.SelectMany(m => ReadResponse.Parser.ParseFrom(m).Data.ToByteArray()).ToArray());

        var tail = (await node.Client.CallAsync(ByteStreamService.ReadPath,
            new ReadRequest { ResourceName = ReadName(d), ReadOffset = blob.Length - 10 })).Expect(Ok);
        Assert.Equal(blob.AsSpan(blob.Length - 10).ToArray(), tail.Messages.SelectMany(m => ReadResponse.Parser.ParseFrom(m).Data.ToByteArray()).ToArray());

        (await node.Client.CallAsync(ByteStreamService.ReadPath,
            new ReadRequest { ResourceName = ReadName(d), ReadOffset = blob.Length + 1 })).Expect(OutOfRange);
    }

    [Fact]
    public async Task ByteStreamAbsentBlobsAreNotFoundAndTheEmptyBlobAlwaysExists()
    {
        await using var node = await GrpcNode.StartAsync();
        var absent = D(Bytes(50, 7));
        var reply = (await node.Client.CallAsync(ByteStreamService.ReadPath, new ReadRequest { ResourceName = ReadName(absent) })).Expect(NotFound);
        Assert.True(reply.TrailersOnly);
        Assert.Empty(reply.Messages);
        (await node.Client.CallAsync(ByteStreamService.QueryWriteStatusPath, new QueryWriteStatusRequest { ResourceName = UploadName(absent) })).Expect(NotFound);

        var empty = D([]);
        var read = (await node.Client.CallAsync(ByteStreamService.ReadPath, new ReadRequest { ResourceName = ReadName(empty) })).Expect(Ok);
        Assert.Empty(read.Messages.SelectMany(m => ReadResponse.Parser.ParseFrom(m).Data));
        var (status, queried) = await node.Client.UnaryAsync(ByteStreamService.QueryWriteStatusPath,
            new QueryWriteStatusRequest { ResourceName = UploadName(empty) }, QueryWriteStatusResponse.Parser);
        status.Expect(Ok);
        Assert.True(queried!.Complete);
    }

    [Fact]
    public async Task ByteStreamWriteWithWrongDataIsInvalidAndStoresNothing()
    {
        await using var node = await GrpcNode.StartAsync();
        var claimed = Bytes(40_000, 8);
        var sent = (byte[])claimed.Clone();
        sent[39_999] ^= 1;
        var d = D(claimed);
        var reply = await node.Client.CallAsync(ByteStreamService.WritePath,
            new WriteRequest { ResourceName = UploadName(d), Data = ByteString.CopyFrom(sent, 0, 20_000) },
            new WriteRequest { WriteOffset = 20_000, Data = ByteString.CopyFrom(sent, 20_000, 20_000), FinishWrite = true });
        reply.Expect(InvalidArgument);
        Assert.Contains("hash", reply.Message);

        var (_, missing) = await node.Client.UnaryAsync(ContentStorageService.FindMissingBlobsPath,
            new FindMissingBlobsRequest { BlobDigests = { d, D(sent) } }, FindMissingBlobsResponse.Parser);
        Assert.Equal([d, D(sent)], missing!.MissingBlobDigests);
    }

    [Fact]
    public async Task ByteStreamWriteOfAStoredBlobFinishesBeforeTheClientDoes()
    {
        await using var node = await GrpcNode.StartAsync();
        var blob = Bytes(100_000, 9);
        var d = D(blob);
        (await node.Client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, new BatchUpdateBlobsRequest
        {
            Requests = { new BatchUpdateBlobsRequest.Types.Request { Digest = d, Data = ByteString.CopyFrom(blob) } },
        })).Expect(Ok);

        // The request stream stays open after its first message; only the early answer can end the call.
        using var content = new HeldOpenContent(GrpcTestClient.Frame(new WriteRequest { ResourceName = UploadName(d), Data = ByteString.CopyFrom(blob, 0, 1000) }));
        var reply = (await node.Client.SendAsync(ByteStreamService.WritePath, content)).Expect(Ok);
        Assert.Equal(blob.Length, WriteResponse.Parser.ParseFrom(reply.Messages.Single()).CommittedSize);
        Assert.False(content.TimedOut, "the answer came only after the client gave up holding the stream open");
    }

    [Fact]
    public async Task ActionResultsMissThenNeedTheirOutputsThenHit()
    {
        await using var node = await GrpcNode.StartAsync();
        var action = D(Bytes(120, 10));
        var output = Bytes(5000, 11);
        var stdout = Bytes(70, 12);
        var treeFile = Bytes(900, 13);
        var tree = new Tree { Root = new Build.Bazel.Remote.Execution.V2.Directory { Files = { new FileNode { Name = "f", Digest = D(treeFile) } } } }.ToByteArray();
        var result = new ActionResult
        {
            OutputFiles = { new OutputFile { Path = "bazel-out/k8-fastbuild/bin/app", Digest = D(output), IsExecutable = true } },
            OutputDirectories = { new OutputDirectory { Path = "bazel-out/dir", TreeDigest = D(tree) } },
            StdoutDigest = D(stdout),
            ExitCode = 0,
        };

        var get = new GetActionResultRequest { ActionDigest = action };
        var miss = (await node.Client.CallAsync(ActionCacheService.GetActionResultPath, get)).Expect(NotFound);
        Assert.True(miss.TrailersOnly);

        var update = new UpdateActionResultRequest { ActionDigest = action, ActionResult = result };
        var refused = (await node.Client.CallAsync(ActionCacheService.UpdateActionResultPath, update)).Expect(FailedPrecondition);
        Assert.Contains("not in the CAS", refused.Message);
        (await node.Client.CallAsync(ActionCacheService.GetActionResultPath, get)).Expect(NotFound);

        // The tree is there but a file inside it is not: still refused.
        (await node.Client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, new BatchUpdateBlobsRequest
        {
            Requests =
            {
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(output), Data = ByteString.CopyFrom(output) },
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(stdout), Data = ByteString.CopyFrom(stdout) },
                new BatchUpdateBlobsRequest.Types.Request { Digest = D(tree), Data = ByteString.CopyFrom(tree) },
            },
        })).Expect(Ok);
        (await node.Client.CallAsync(ActionCacheService.UpdateActionResultPath, update)).Expect(FailedPrecondition);

        (await node.Client.CallAsync(ContentStorageService.BatchUpdateBlobsPath, new BatchUpdateBlobsRequest
        {
            Requests = { new BatchUpdateBlobsRequest.Types.Request { Digest = D(treeFile), Data = ByteString.CopyFrom(treeFile) } },
        })).Expect(Ok);
        var (stored, echoed) = await node.Client.UnaryAsync(ActionCacheService.UpdateActionResultPath, update, ActionResult.Parser);
        stored.Expect(Ok);
        Assert.Equal(result, echoed);

        var (hit, cached) = await node.Client.UnaryAsync(ActionCacheService.GetActionResultPath, get, ActionResult.Parser);
        hit.Expect(Ok);
        Assert.Equal(result, cached);

        // Another instance name is another cache.
        (await node.Client.CallAsync(ActionCacheService.GetActionResultPath, new GetActionResultRequest { InstanceName = "other", ActionDigest = action })).Expect(NotFound);
    }

    [Fact]
    public async Task ActionResultWithAnInvalidDigestIsRefused()
    {
        await using var node = await GrpcNode.StartAsync();
        var result = new ActionResult { OutputFiles = { new OutputFile { Path = "x", Digest = new ProtoDigest { Hash = "xyz", SizeBytes = 3 } } } };
        var reply = (await node.Client.CallAsync(ActionCacheService.UpdateActionResultPath,
            new UpdateActionResultRequest { ActionDigest = D(Bytes(10, 14)), ActionResult = result })).Expect(InvalidArgument);
        Assert.Contains("output file 'x'", reply.Message);
        (await node.Client.CallAsync(ActionCacheService.GetActionResultPath,
            new GetActionResultRequest { ActionDigest = new ProtoDigest { Hash = "00", SizeBytes = 1 } })).Expect(InvalidArgument);
        (await node.Client.CallAsync(ActionCacheService.GetActionResultPath,
            new GetActionResultRequest { ActionDigest = D(Bytes(10, 14)), DigestFunction = DigestFunction.Types.Value.Md5 })).Expect(InvalidArgument);
    }

    /// <summary>Request content that sends its bytes, then holds the stream open until disposed.</summary>
    private sealed class HeldOpenContent(byte[] first) : HttpContent, IDisposable
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TimedOut { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(first);
            await stream.FlushAsync();
            // Released when the request is disposed, after the answer; the timeout only bounds a broken server.
            if (await Task.WhenAny(_release.Task, Task.Delay(TimeSpan.FromSeconds(20))) != _release.Task)
            {
                TimedOut = true;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            _release.TrySetResult();
            base.Dispose(disposing);
        }
    }
}
