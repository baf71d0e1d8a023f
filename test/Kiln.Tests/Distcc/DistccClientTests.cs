using System.Net;
using Kiln.Core.Compile;
using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>Kiln's distcc client against a stock distccd: protocol 1 and 2, errors, refusals, dead hosts.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class DistccClientTests
{
    private static async Task<RemoteCompileRequest> RequestAsync(TempDirectory dir, string name, string source, string compiler = "gcc")
    {
        return new RemoteCompileRequest
        {
            Compiler = compiler,
            Arguments = ["-O2"],
            Language = SourceLanguage.PreprocessedC,
            Preprocessed = await DistccTestKit.PreprocessAsync(dir, name, source),
            SourceName = name,
            OutputName = Path.ChangeExtension(name, ".o"),
        };
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompilesThroughStockDistccdByteIdentically(bool lzo)
    {
        await using var distccd = await StockDistccd.StartAsync();
        using var dir = new TempDirectory("kiln-distcc-client");
        var request = await RequestAsync(dir, "calc.c", "#include <stdio.h>\nint calc(int x) { printf(\"%d\\n\", x); return x * 3; }\n");
        var reply = await new DistccClient().CompileAsync(DistccTestKit.Host(distccd.EndPoint, lzo), request, CancellationToken.None);
        Assert.True(reply.Status == RemoteStatus.Completed, reply.Message + "\n" + distccd.Log);
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.Equal(await DistccTestKit.LocalObjectAsync(dir, "gcc", "calc.c", "-O2"), reply.Outcome.Object.ToArray());
        Assert.Contains("COMPILE_OK", distccd.Log);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CompileErrorComesBackWithItsExitCodeAndMessage(bool lzo)
    {
        await using var distccd = await StockDistccd.StartAsync();
        using var dir = new TempDirectory("kiln-distcc-client");
        var request = await RequestAsync(dir, "bad.c", "int bad(void) { return nope; }\n");
        var reply = await new DistccClient().CompileAsync(DistccTestKit.Host(distccd.EndPoint, lzo), request, CancellationToken.None);
        Assert.Equal(RemoteStatus.Completed, reply.Status);
        Assert.Equal(1, reply.Outcome!.ExitCode);
        var stderr = System.Text.Encoding.UTF8.GetString(reply.Outcome.Stderr.Span);
        Assert.Contains("nope", stderr);
        Assert.Contains("undeclared", stderr);
        Assert.True(reply.Outcome.Object.IsEmpty);
    }

    [Fact]
    public async Task RefusalByDistccdIsAFailureNamingTheHost()
    {
        await using var distccd = await StockDistccd.StartAsync();
        using var dir = new TempDirectory("kiln-distcc-client");
        // distccd refuses compilers it has no masquerade link for, by closing the connection.
        var request = await RequestAsync(dir, "x.c", "int x;\n", compiler: "python3");
        var reply = await new DistccClient().CompileAsync(DistccTestKit.Host(distccd.EndPoint), request, CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains($"127.0.0.1:{distccd.EndPoint.Port}: the server closed the connection without an answer", reply.Message);
    }

    [Fact]
    public async Task UnreachableHostIsAFailureNamingHostAndPort()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        using var dir = new TempDirectory("kiln-distcc-client");
        var request = await RequestAsync(dir, "x.c", "int x;\n");
        var reply = await new DistccClient().CompileAsync(DistccTestKit.Host(new IPEndPoint(IPAddress.Loopback, port)), request, CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.StartsWith($"127.0.0.1:{port}: ", reply.Message);
        Assert.Contains("refused", reply.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ServerThatNeverAnswersTimesOutWithAFailure()
    {
        using var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var endPoint = (IPEndPoint)silent.LocalEndpoint;
        using var dir = new TempDirectory("kiln-distcc-client");
        var request = await RequestAsync(dir, "x.c", "int x;\n");
        var client = new DistccClient { IoTimeout = TimeSpan.FromSeconds(1) };
        var reply = await client.CompileAsync(DistccTestKit.Host(endPoint), request, CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains($"127.0.0.1:{endPoint.Port}", reply.Message);
    }

    [Fact]
    public async Task NonDistccHostIsRefusedWithoutConnecting()
    {
        var host = new HostSpec { Text = "localhost", Kind = HostKind.Local, Host = "localhost" };
        var reply = await new DistccClient().CompileAsync(host, new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = [],
            Language = SourceLanguage.PreprocessedC,
            Preprocessed = "int x;\n"u8.ToArray(),
            SourceName = "x.c",
            OutputName = "x.o",
        }, CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("not a distcc TCP host", reply.Message);
    }

    [Fact]
    public async Task KilnNodeAnswersKilnsOwnDistccClient()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!, lzo: false);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!, lzo: true);
        Assert.Equal(2, node.Node.Counters.DistccJobs);

        // The two jobs are the same compile: the second is answered from the node's compile cache.
        Assert.Equal(1, node.Node.Counters.CompilesOk);
    }
}
