using System.Net;
using System.Text;
using Kiln.Core.Distcc;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>
/// Hostile requests on the distcc listener: each gets a clear outcome (a closed connection counted as a
/// protocol error, or a refusal reply with the reason), never a crash or a hang, and the node then
/// serves a valid job.
/// </summary>
public class DistccHostileInputTests
{
    private static readonly string[] s_goodArgv = ["gcc", "-c", "x.c", "-o", "x.o"];

    private static async Task AssertClosedAsProtocolErrorAsync(TestNode node, byte[] request, bool halfClose = true)
    {
        var endPoint = node.Node.DistccEndPoint!;
        var answer = await DistccTestKit.ExchangeAsync(endPoint, request, halfClose);
        Assert.Empty(answer);
        await Wait.UntilAsync(() => node.Node.Counters.ProtocolErrors == 1, "the protocol error to be counted");
        Assert.Equal(0, node.Node.Counters.DistccJobs);
        await DistccTestKit.AssertServesValidJobAsync(endPoint);
        Assert.Equal(1, node.Node.Counters.DistccJobs);
    }

    [Fact]
    public async Task WrongFirstTokenClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        await AssertClosedAsProtocolErrorAsync(node, "ARGC00000001ARGV00000003gcc"u8.ToArray());
    }

    [Fact]
    public async Task UnknownProtocolVersionClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        await AssertClosedAsProtocolErrorAsync(node, DistccTestKit.Request(9, s_goodArgv, "int x;\n"u8.ToArray()));
    }

    [Fact]
    public async Task HugeArgumentCountClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        // No half-close: the server must not wait for four billion arguments.
        await AssertClosedAsProtocolErrorAsync(node, "DIST00000001ARGCffffffff"u8.ToArray(), halfClose: false);
    }

    [Fact]
    public async Task HugeArgumentLengthClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        await AssertClosedAsProtocolErrorAsync(node, "DIST00000001ARGC00000001ARGVfffffff0gcc"u8.ToArray(), halfClose: false);
    }

    [Fact]
    public async Task HugeSourceLengthClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        var request = DistccTestKit.Request(1, s_goodArgv, doti: null).Concat("DOTIffffffffint x;"u8.ToArray()).ToArray();
        await AssertClosedAsProtocolErrorAsync(node, request, halfClose: false);
    }

    [Fact]
    public async Task TruncatedRequestClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        var full = DistccTestKit.Request(1, s_goodArgv, "int x;\n"u8.ToArray());
        await AssertClosedAsProtocolErrorAsync(node, full[..(full.Length - 4)]);
    }

    [Fact]
    public async Task GarbageBytesCloseTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        var garbage = new byte[4096];
        new Random(20261121).NextBytes(garbage);
        await AssertClosedAsProtocolErrorAsync(node, garbage, halfClose: false);
    }

    [Fact]
    public async Task CorruptLzoBodyClosesTheConnection()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        var body = new byte[200];
        new Random(5).NextBytes(body);
        body[0] = 0x20;
        var request = DistccTestKit.Request(2, s_goodArgv, doti: null)
            .Concat(DistccHeaderCodec.Encode("DOTI", (uint)body.Length)).Concat(body).ToArray();
        await AssertClosedAsProtocolErrorAsync(node, request);
    }

    [Theory]
    [InlineData("/bin/sh", "not on this node's allow-list")]
    [InlineData("python3", "not on this node's allow-list")]
    [InlineData("gcc", "-fplugin=x.so")]
    public async Task RefusedCompilerOrArgumentGetsAReplyWithTheReason(string compiler, string reason)
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        string[] argv = compiler == "gcc" ? ["gcc", "-fplugin=x.so", "-c", "x.c", "-o", "x.o"] : [compiler, "-c", "x.c", "-o", "x.o"];
        var answer = await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, DistccTestKit.Request(2, argv, "echo pwned > /tmp/kiln-pwned\n"u8.ToArray(), compress: true), halfClose: false);
        var reply = await DistccTestKit.ParseReplyAsync(answer, compressed: true);
        Assert.Equal(2u, reply.Version);
        Assert.Equal(101, reply.ExitCode);
        Assert.Contains(reason, reply.Stderr);
        Assert.StartsWith("kiln node test-node: ", reply.Stderr);
        Assert.Empty(reply.Object);
        Assert.False(File.Exists("/tmp/kiln-pwned"));
        Assert.Equal(1, node.Node.Counters.Refused);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!);
    }

    [Fact]
    public async Task PeerOutsideTheAllowListIsClosedAtOnce()
    {
        await using var node = await TestNode.StartAsync(distcc: true, configure: o => o.Allow.Add(IPNetwork.Parse("10.0.0.0/8")));
        var answer = await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, DistccTestKit.Request(1, s_goodArgv, "int x;\n"u8.ToArray()));
        Assert.Empty(answer);
        await Wait.UntilAsync(() => node.Node.Counters.Refused == 1, "the refused peer to be counted");
        Assert.Equal(0, node.Node.Counters.DistccJobs);

        // The stock-protocol client sees a closed connection and says which host did it.
        var reply = await new Kiln.Core.Distcc.DistccClient().CompileAsync(DistccTestKit.Host(node.Node.DistccEndPoint!), new Kiln.Core.Remote.RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = [],
            Language = Kiln.Core.Compile.SourceLanguage.PreprocessedC,
            Preprocessed = "int x;\n"u8.ToArray(),
            SourceName = "x.c",
            OutputName = "x.o",
        }, CancellationToken.None);
        Assert.Equal(Kiln.Core.Remote.RemoteStatus.Failed, reply.Status);
        Assert.Contains($"127.0.0.1:{node.Node.DistccEndPoint!.Port}", reply.Message);
        // Depending on timing the reset meets the client's write or its first read; either way it fails cleanly.
        Assert.Matches("closed the connection without an answer|reset|Broken pipe", reply.Message);
        Assert.Equal(2, node.Node.Counters.Refused);
    }

    internal static byte[] PumpRequest(params (string Name, string? Content, string? Link)[] files)
    {
        using var buffer = new MemoryStream();
        var writer = new DistccWriter(buffer);
        writer.Header("DIST", 3);
        writer.String("CDIR", "/work/proj");
        string[] argv = ["gcc", "-c", "main.c", "-o", "main.o"];
        writer.Header("ARGC", (uint)argv.Length);
        foreach (var a in argv)
        {
            writer.String("ARGV", a);
        }

        writer.Header("NFIL", (uint)files.Length);
        foreach (var (name, content, link) in files)
        {
            writer.String("NAME", name);
            if (link is not null)
            {
                writer.String("LINK", link);
            }
            else
            {
                writer.BodyAsync("FILE", Encoding.UTF8.GetBytes(content!), compress: true, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
        }

        writer.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    [Fact]
    public async Task PumpNameEscapingTheRootIsRefused()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        var escape = "kiln-escape-" + Guid.NewGuid().ToString("n");
        var request = PumpRequest(
            ("/work/proj/main.c", "int main(void) { return 0; }\n", null),
            ("/work/proj/../../../../../../../../tmp/" + escape, "planted\n", null));
        var reply = await DistccTestKit.ParseReplyAsync(await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, request, halfClose: false), compressed: true);
        Assert.Equal(3u, reply.Version);
        Assert.Equal(101, reply.ExitCode);
        Assert.Contains("has a '..' component and could escape the job's root", reply.Stderr);
        Assert.False(File.Exists("/tmp/" + escape));
        Assert.Empty(Directory.GetFileSystemEntries(node.DataDirectory, escape, SearchOption.AllDirectories));
        Assert.Equal(1, node.Node.Counters.Refused);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!);
    }

    [Fact]
    public async Task PumpLinkToEtcShadowIsRefused()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        // The include server links system directories with relative targets that climb out of the
        // root; a hostile client uses the same form to reach the node's /etc/shadow.
        var request = PumpRequest(
            ("/work/proj/main.c", "#include \"secret.h\"\nint main(void) { return 0; }\n", null),
            ("/work/proj/secret.h", null, "../../../../../../../../../../../../etc/shadow"));
        var reply = await DistccTestKit.ParseReplyAsync(await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, request, halfClose: false), compressed: true);
        Assert.Equal(101, reply.ExitCode);
        Assert.Contains("LINK '/work/proj/secret.h' resolves to '/etc/shadow', outside the job's root", reply.Stderr);
        Assert.DoesNotContain("root:", reply.Stderr);

        // An absolute target names a client path, so it stays inside the root (as distccd maps it):
        // the compile sees no /etc/shadow at all.
        var absolute = PumpRequest(
            ("/work/proj/main.c", "#include \"secret.h\"\nint main(void) { return 0; }\n", null),
            ("/work/proj/secret.h", null, "/etc/shadow"));
        var reply2 = await DistccTestKit.ParseReplyAsync(await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, absolute, halfClose: false), compressed: true);
        Assert.Equal(1, reply2.ExitCode);
        Assert.Contains("secret.h: No such file or directory", reply2.Stderr);
        Assert.DoesNotContain("root:", reply2.Stderr);
        Assert.Equal(1, node.Node.Counters.Refused);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!);
    }
}
