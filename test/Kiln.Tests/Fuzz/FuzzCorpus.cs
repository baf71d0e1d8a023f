using System.Buffers;
using System.Text;
using Build.Bazel.Remote.Execution.V2;
using Google.Bytestream;
using Google.Protobuf;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Trust;
using Kiln.Server.Grpc;
using Kiln.Tests.Distcc;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;
using Digest = Kiln.Core.Hashing.Digest;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// The committed seed corpus: one directory per target under <c>test/Kiln.Tests/Fuzz/corpus</c>,
/// each file one seed named by its SHA-256. The seeds are well-formed messages built with the codecs
/// (<see cref="Seeds"/>) plus inputs that once broke something; the mutator starts from them.
/// </summary>
internal static class FuzzCorpus
{
    public static string Directory(string target) => Path.Combine(Tools.RepositoryRoot, "test", "Kiln.Tests", "Fuzz", "corpus", target);

    /// <summary>The seeds of <paramref name="target"/>, in file name order.</summary>
    public static List<byte[]> Load(string target)
    {
        var dir = Directory(target);
        return System.IO.Directory.Exists(dir)
            ? [.. System.IO.Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)]
            : [];
    }

    /// <summary>The file name a seed is stored under.</summary>
    public static string FileName(byte[] seed) => Digest.FromBytes(seed).Hex[..16];

    /// <summary>Well-formed inputs for each target, built with the same codecs the peers use.</summary>
    public static IEnumerable<byte[]> Seeds(string target) => target switch
    {
        "distcc-header" => [
            "DIST00000001ARGC00000005"u8.ToArray(),
            "DOTI0000001aSTAT00000000SERR00000000"u8.ToArray(),
            "DIST0000000gARGCffffffff"u8.ToArray(),
        ],
        "distcc-request" => [
            DistccTestKit.Request(1, ["gcc", "-O2", "-c", "a.c", "-o", "a.o"], "int a(void) { return 1; }\n"u8.ToArray()),
            DistccTestKit.Request(2, ["gcc", "-c", "b.c", "-o", "b.o"], "int b;\n"u8.ToArray(), compress: true),
            DistccHostileInputTests.PumpRequest(("/work/proj/main.c", "#include \"x.h\"\nint main(void) { return 0; }\n", null), ("/work/proj/x.h", "int x;\n", null)),
            DistccHostileInputTests.PumpRequest(("/work/proj/main.c", "int main(void) { return 0; }\n", null), ("/work/proj/l.h", null, "../x.h")),
        ],
        "kiln-frames" => [
            [0, .. RawKilnPeer.Hello(token: "tok")[KilnFrameHeader.Size..]],
            [1, .. RawKilnPeer.Job("gcc", ["-O2", "--param", "x=1"], 12, SourceLanguage.PreprocessedC, Digest.FromBytes("int a = 1;\n\n"u8))[KilnFrameHeader.Size..]],
            [2, .. Payload(w => new KilnResult(0, "out"u8.ToArray(), "warning"u8.ToArray(), new byte[] { 0x7f, 0x45, 0x4c, 0x46, 2, 1, 1 }, [new KilnOutputFile(KilnOutputFile.DependencyFileName, "a.o: a.c\n"u8.ToArray())]).WriteFrame(w))],
            [3, .. Payload(new KilnWelcome(KilnProtocol.Version, KilnCapabilities.Compile, 4, 2, "node").WriteFrame)],
            [4, .. Payload(new KilnBusy("all 4 slots taken").WriteFrame)],
            [5, .. Payload(new KilnError(KilnErrorCode.ArgumentRefused, "argument '-fplugin=x' refused").WriteFrame)],
            [6, .. KilnManifest.Encode([ManifestEntry() with { NodeKey = ActionKey.FromEncoding("node"u8) }])],
            [7, .. KilnManifest.RecordFrame(ActionKey.FromEncoding("manifest"u8), ManifestEntry())[KilnFrameHeader.Size..]],
            [8, .. new KilnPreprocessJob
            {
                ManifestKey = ActionKey.FromEncoding("manifest"u8),
                Compiler = "gcc",
                Arguments = ["-O2", "-c", "d.c"],
                WorkingDirectory = "/src",
                Files = [new KilnPreprocessFile("d.c", Digest.FromBytes("int d;\n"u8), "int d;\n"u8.ToArray()), new KilnPreprocessFile("/usr/include/stdio.h", Digest.FromBytes("stdio"u8), null)],
            }.ToFrame()[KilnFrameHeader.Size..]],
            RawKilnPeer.Hello(),
        ],
        "kiln-session" => [
            [.. RawKilnPeer.Hello(), .. RawKilnPeer.Job("gcc", ["-O2"], 11), .. RawKilnPeer.Input("int a = 1;\n"u8, last: true)],
            [.. RawKilnPeer.Hello(token: "t"), .. RawKilnPeer.Job("g++", ["-std=c++17"], 8, SourceLanguage.PreprocessedCxx), .. RawKilnPeer.Input("int b=2;"u8[..4], last: false), .. RawKilnPeer.Input("int b=2;"u8[4..], last: true),
                .. RawKilnPeer.Job("gcc", [], 0), .. RawKilnPeer.Input([], last: true)],
            RawKilnPeer.Hello(),
            [.. RawKilnPeer.Hello(), .. KilnManifest.KeyFrame(KilnFrameType.Lookup, ActionKey.FromEncoding("manifest"u8)),
                .. KilnManifest.KeyFrame(KilnFrameType.Fetch, ActionKey.FromEncoding("node"u8)),
                .. KilnManifest.RecordFrame(ActionKey.FromEncoding("manifest"u8), ManifestEntry())],
        ],
        "cache-paths" => [
            Encoding.UTF8.GetBytes("ac/" + Hash + Hash[..24]),
            Encoding.UTF8.GetBytes("team/x86_64-linux/cas/" + Hash),
            Encoding.UTF8.GetBytes("main/ac/" + Hash),
            Encoding.UTF8.GetBytes("uploads/7c2a/blobs/" + Hash + "/5"),
            Encoding.UTF8.GetBytes("a/b/blobs/" + Hash + "/12345"),
        ],
        "grpc-frames" => [
            Framed(new WriteRequest { ResourceName = "uploads/1/blobs/" + Hash + "/5", WriteOffset = 0, FinishWrite = true, Data = ByteString.CopyFromUtf8("hello") }),
            Framed(new FindMissingBlobsRequest { InstanceName = "main", BlobDigests = { new Build.Bazel.Remote.Execution.V2.Digest { Hash = Hash, SizeBytes = 5 } } }),
            [.. Framed(new ActionResult { ExitCode = 0, OutputFiles = { new OutputFile { Path = "a.o", Digest = new Build.Bazel.Remote.Execution.V2.Digest { Hash = Hash, SizeBytes = 9 } } } }),
                .. Framed(new ReadRequest { ResourceName = "blobs/" + Hash + "/9", ReadOffset = 2 })],
        ],
        "attestation" => [
            Attestation.Create(SigningKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray()), ActionKey.FromEncoding("compile a.c"u8),
                Digest.FromBytes("object"u8), AttestationKind.Executed, new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero)).Encode(),
            Attestation.Create(SigningKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray()), ActionKey.FromEncoding("package zlib"u8),
                Digest.FromBytes("archive"u8), AttestationKind.Rebuilt, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)).Encode(),
        ],
        _ => throw new ArgumentException($"no seeds for fuzz target '{target}'", nameof(target)),
    };

    private static KilnManifestEntry ManifestEntry() => new(ActionKey.FromEncoding("client"u8), ActionKey.None,
        [new Kiln.Core.Actions.IncludedFile("a.c", Digest.FromBytes("int a;\n"u8)), new Kiln.Core.Actions.IncludedFile("/usr/include/stdio.h", Digest.FromBytes("x"u8))],
        "a.o: a.c\n"u8.ToArray());

    private const string Hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    private static byte[] Payload(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan[KilnFrameHeader.Size..].ToArray();
    }

    private static byte[] Framed(IMessage message)
    {
        var body = message.ToByteArray();
        var framed = new byte[GrpcFraming.PrefixLength + body.Length];
        GrpcFraming.WritePrefix(framed, body.Length);
        body.CopyTo(framed, GrpcFraming.PrefixLength);
        return framed;
    }
}
