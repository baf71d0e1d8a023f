using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Build.Bazel.Remote.Execution.V2;
using Google.Bytestream;
using Google.Protobuf;
using Kiln.Core.Distcc;
using Kiln.Core.Protocol;
using Kiln.Core.Trust;
using Kiln.Server.Cache;
using Kiln.Server.Compile;
using Kiln.Server.Distcc;
using Kiln.Server.Grpc;
using Kiln.Server.Hosting;
using Kiln.Server.Protocol;
using Kiln.Tests.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Digest = Kiln.Core.Hashing.Digest;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Every parser that reads bytes from the network, as a fuzz target: it takes one input and returns
/// normally when the parser accepted it or rejected it the documented way (false, null, an error
/// status, a protocol exception it is declared to throw). Any other exception is a bug.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>The targets by name; each name is also its corpus directory.</summary>
    public static readonly IReadOnlyDictionary<string, Func<byte[], Task>> All = new Dictionary<string, Func<byte[], Task>>
    {
        ["distcc-header"] = DistccHeaderAsync,
        ["distcc-request"] = DistccRequestAsync,
        ["kiln-frames"] = KilnFramesAsync,
        ["kiln-session"] = KilnSessionAsync,
        ["cache-paths"] = CachePathsAsync,
        ["grpc-frames"] = GrpcFramesAsync,
        ["attestation"] = AttestationAsync,
    };

    /// <summary>A node executor with no compiler installed: every job is refused at once, so no input runs gcc.</summary>
    private static readonly Lazy<CompileExecutor> s_executor = new(() =>
    {
        var root = System.IO.Directory.CreateTempSubdirectory("kiln-fuzz-").FullName;
        var empty = System.IO.Directory.CreateDirectory(Path.Combine(root, "no-compilers")).FullName;
        return new CompileExecutor(new CompileExecutorOptions { Slots = 1, JobRoot = Path.Combine(root, "jobs"), CompilerDirectories = [empty] }, new NodeCounters());
    });

    private static Task DistccHeaderAsync(byte[] input)
    {
        for (var i = 0; i + DistccHeaderCodec.Size <= input.Length; i += DistccHeaderCodec.Size)
        {
            if (DistccHeaderCodec.TryParse(input.AsSpan(i, DistccHeaderCodec.Size), out var header, out var error))
            {
                Assert.Null(error);
                Assert.Equal(4, header.Token.Length);
            }
            else
            {
                Assert.False(string.IsNullOrEmpty(error));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A whole distcc request (protocol 1, 2 or 3) through the node's own handler on an in-memory connection.</summary>
    private static async Task DistccRequestAsync(byte[] input)
    {
        var options = new KilnNodeOptions { NodeName = "fuzz" };
        var handler = new DistccConnectionHandler(options, s_executor.Value, NullLogger<DistccConnectionHandler>.Instance) { ReadTimeout = TimeSpan.FromSeconds(5) };
        var toServer = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var toClient = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await toServer.Writer.WriteAsync(input);
        await toServer.Writer.CompleteAsync();
        var connection = new DefaultConnectionContext("fuzz", new DuplexPipe(toServer.Reader, toClient.Writer), new DuplexPipe(toClient.Reader, toServer.Writer))
        {
            RemoteEndPoint = new IPEndPoint(IPAddress.Loopback, 1),
        };

        // The handler turns every protocol violation into a counted error; it never throws.
        await handler.OnConnectedAsync(connection);
    }

    /// <summary>Frame headers and every payload parser of the Kiln protocol; the first byte picks the parser.</summary>
    private static Task KilnFramesAsync(byte[] input)
    {
        if (input.Length == 0)
        {
            return Task.CompletedTask;
        }

        if (input.Length >= KilnFrameHeader.Size)
        {
            if (KilnFrameHeader.TryRead(input, _ => KilnProtocol.MaxFrameLength, out var header, out var headerError))
            {
                Assert.InRange(header.Length, 0, KilnProtocol.MaxFrameLength);
            }
            else
            {
                Assert.False(string.IsNullOrEmpty(headerError.Message));
            }
        }

        var payload = input.AsMemory(1);
        var parsed = (input[0] % 9) switch
        {
            6 => KilnManifest.TryParse(payload, out var entries, out var e6) ? entries.Count <= KilnManifest.MaxEntries : Rejected(e6),
            7 => KilnManifest.TryParseRecord(payload, out var key, out var entry, out var e7) ? !key.IsNone && entry.NodeKey.IsNone : Rejected(e7),
            8 => KilnPreprocessJob.TryParse(payload, out var preprocess, out var e8) ? !preprocess.ManifestKey.IsNone && preprocess.WorkingDirectory.StartsWith('/') : Rejected(e8),
            0 => KilnHello.TryParse(payload, out _, out var e0) || Rejected(e0),
            1 => KilnJob.TryParse(payload, out var job, out var e1) ? Validated(job) : Rejected(e1),
            2 => KilnResult.TryParse(payload, out _, out var e2) || Rejected(e2),
            3 => KilnWelcome.TryParse(payload, out _, out var e3) || Rejected(e3),
            4 => KilnBusy.TryParse(payload, out _, out var e4) || Rejected(e4),
            5 => KilnError.TryParse(payload, out _, out var e5) || Rejected(e5),
            _ => throw new InvalidOperationException("unreachable"),
        };
        Assert.True(parsed);
        return Task.CompletedTask;
    }

    private static bool Validated(KilnJob job)
    {
        // A parsed job may still be invalid (Validate says why); either way it must not throw.
        _ = job.Validate();
        return true;
    }

    private static bool Rejected(KilnError? error)
    {
        Assert.NotNull(error);
        Assert.False(string.IsNullOrEmpty(error.Message));
        return true;
    }

    /// <summary>A whole Kiln protocol session (HELLO, JOB, INPUT…) against the node's session on in-memory pipes.</summary>
    private static async Task KilnSessionAsync(byte[] input)
    {
        var toServer = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var toClient = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var options = new KilnSessionOptions
        {
            HandshakeTimeout = TimeSpan.FromSeconds(5),
            ReadTimeout = TimeSpan.FromSeconds(5),
            IdleTimeout = TimeSpan.FromSeconds(5),
            Linger = TimeSpan.Zero,
        };
        var session = new KilnSession(s_executor.Value, options, "fuzz", NullLogger.Instance, new DuplexPipe(toServer.Reader, toClient.Writer), "fuzz");
        await toServer.Writer.WriteAsync(input);
        await toServer.Writer.CompleteAsync();

        // The session answers every malformed frame with ERROR and ends; it never throws.
        await session.RunAsync(CancellationToken.None);
    }

    /// <summary>The ccache and Bazel HTTP cache paths and the ByteStream resource names.</summary>
    private static Task CachePathsAsync(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        Check(CcachePathParser.TryParse(text, out _, out var ccacheError), ccacheError);
        Check(BazelPathParser.TryParse(text, out _, out var bazelError), bazelError);
        Check(ByteStreamResource.TryParseRead(text, out _, out var readError), readError);
        Check(ByteStreamResource.TryParseWrite(text, out _, out var writeError), writeError);
        _ = CcachePathParser.TryCanonical(text, out _);
        return Task.CompletedTask;

        static void Check(bool ok, string error)
        {
            if (!ok)
            {
                Assert.False(string.IsNullOrEmpty(error));
            }
        }
    }

    /// <summary>
    /// gRPC request bodies as the node reads them: length-prefixed frames (split into segments at
    /// every point the input's first byte picks), then the messages the services parse, and the
    /// ActionResult reference scan of the HTTP cache.
    /// </summary>
    private static async Task GrpcFramesAsync(byte[] input)
    {
        var http = new DefaultHttpContext();
        http.Request.Body = new MemoryStream(input);
        var call = new GrpcCall(http);
        for (var i = 0; i < 64; i++)
        {
            var message = await call.ReadMessageAsync(WriteRequest.Parser, CancellationToken.None);
            if (!message.IsMessage)
            {
                Assert.True(message.IsEnd || !string.IsNullOrEmpty(message.Status.Message));
                break;
            }
        }

        var sequence = Segmented(input, input.Length == 0 ? 1 : 1 + (input[0] % 7));
        while (true)
        {
            var parse = GrpcFraming.TryReadFrame(sequence, GrpcLimits.MaxReceiveMessageSize, out var body, out _);
            if (parse != FrameParse.Complete)
            {
                break;
            }

            ParseMessage(body, input.Length);
            sequence = sequence.Slice(body.End);
        }

        var references = new List<Digest>();
        if (!ActionResultReader.TryReadReferences(input, references, out var error))
        {
            Assert.False(string.IsNullOrEmpty(error));
        }
    }

    private static void ParseMessage(ReadOnlySequence<byte> body, int selector)
    {
        try
        {
            switch (selector % 5)
            {
                case 0:
                    _ = FindMissingBlobsRequest.Parser.ParseFrom(body);
                    break;
                case 1:
                    _ = BatchUpdateBlobsRequest.Parser.ParseFrom(body);
                    break;
                case 2:
                    _ = UpdateActionResultRequest.Parser.ParseFrom(body);
                    break;
                case 3:
                    _ = ReadRequest.Parser.ParseFrom(body);
                    break;
                default:
                    _ = Tree.Parser.ParseFrom(body);
                    break;
            }
        }
        catch (InvalidProtocolBufferException)
        {
            // protobuf's documented rejection; the services answer it with INVALID_ARGUMENT.
        }
    }

    private static ReadOnlySequence<byte> Segmented(byte[] input, int segments)
    {
        if (segments <= 1 || input.Length < segments)
        {
            return new ReadOnlySequence<byte>(input);
        }

        var size = input.Length / segments;
        var first = new Segment(input.AsMemory(0, size), 0);
        var last = first;
        for (var offset = size; offset < input.Length; offset += size)
        {
            last = last.Append(input.AsMemory(offset, Math.Min(size, input.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    private static readonly Lazy<SigningKey> s_key = new(() => SigningKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray()));

    /// <summary>Attestation wire forms: decoded, and when they decode, re-encoded identically and checked against a key.</summary>
    private static Task AttestationAsync(byte[] input)
    {
        var attestation = Attestation.Decode(input);
        if (attestation is not null)
        {
            Assert.Equal(input, attestation.Encode());
            _ = s_key.Value.PublicKey.Verify(attestation.Statement(), attestation.Signature);
        }

        return Task.CompletedTask;
    }
}
