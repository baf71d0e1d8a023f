using System.IO.Pipelines;
using Kiln.Core.Compile;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Server.Compile;
using Kiln.Server.Protocol;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiln.Tests.Protocol;

/// <summary>Real compiles through <see cref="KilnProtocolClient"/> and an in-process node, against gcc and g++ run locally.</summary>
public sealed class KilnProtocolCompileTests
{
    private static readonly Dictionary<string, string> s_cLocale = new() { ["LC_ALL"] = "C" };

    private static async Task<(byte[] Local, RemoteCompileReply Remote, byte[] Preprocessed)> CompileBothWaysAsync(
        TestNode node, KilnProtocolClient client, string compiler, string sourceName, string source, params string[] flags)
    {
        using var dir = new TempDirectory("kiln-proto");
        dir.Write(sourceName, source);
        var args = new List<string>(flags) { "-c", sourceName, "-o", "local.o" };
        var command = CompileCommand.Parse(compiler, args);
        Assert.True(command.IsDistributable, command.LocalReason);

        var local = await Tools.RunAsync(compiler, args, dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(local.ExitCode == 0, local.Stderr);
        var preprocessed = await ProtocolTestKit.PreprocessAsync(compiler, command, dir.Path);

        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var remote = await client.CompileAsync(ProtocolTestKit.Host(node), new RemoteCompileRequest
        {
            Compiler = compiler,
            Arguments = command.RemoteArguments(),
            Language = command.Language.Preprocessed(),
            Preprocessed = preprocessed,
            SourceName = sourceName,
            OutputName = "local.o",
            WorkingDirectory = dir.Path,
            Locale = s_cLocale,
        }, cts.Token);
        return (await File.ReadAllBytesAsync(dir.Combine("local.o")), remote, preprocessed);
    }

    [Fact]
    public async Task CCompileMatchesLocalGccByteForByte()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient();
        const string source = "#include <stdio.h>\n#define GREETING \"hello from kiln\"\nint main(void) { puts(GREETING); return 0; }\n";
        var (local, remote, _) = await CompileBothWaysAsync(node, client, "gcc", "hello.c", source, "-O2", "-Wall");

        Assert.True(remote.Status == RemoteStatus.Completed, $"{remote.Status}: {remote.Message}");
        Assert.Equal(0, remote.Outcome!.ExitCode);
        Assert.Equal(local, remote.Outcome.Object.ToArray());
        Assert.Equal(1, node.Node.Counters.KilnJobs);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task CxxCompileMatchesLocalGxxByteForByte()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient();
        const string source = """
            #include <map>
            #include <string>
            #include <vector>
            #include <algorithm>
            #include <iostream>
            std::map<std::string, int> count(const std::vector<std::string>& words)
            {
                std::map<std::string, int> counts;
                for (const auto& w : words) { ++counts[w]; }
                return counts;
            }
            int main() { std::cout << count({"a", "b", "a"}).size() << '\n'; }
            """;
        var (local, remote, preprocessed) = await CompileBothWaysAsync(node, client, "g++", "count.cc", source, "-O2", "-std=c++17");

        // The preprocessed C++ spans several INPUT chunks, so chunking is part of what this proves.
        Assert.True(preprocessed.Length > KilnProtocol.MaxInputChunk, $"preprocessed size {preprocessed.Length}");
        Assert.True(remote.Status == RemoteStatus.Completed, $"{remote.Status}: {remote.Message}");
        Assert.Equal(0, remote.Outcome!.ExitCode);
        Assert.Equal(local, remote.Outcome.Object.ToArray());
    }

    [Fact]
    public async Task CompileErrorReturnsExitCodeOneAndGccDiagnostics()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient();
        using var dir = new TempDirectory("kiln-proto");
        dir.Write("bad.c", "int main(void)\n{\n    return undefined_name;\n}\n");
        string[] args = ["-O2", "-c", "bad.c", "-o", "bad.o"];
        var local = await Tools.RunAsync("gcc", args, dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.Equal(1, local.ExitCode);
        var command = CompileCommand.Parse("gcc", args);
        var preprocessed = await ProtocolTestKit.PreprocessAsync("gcc", command, dir.Path);

        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = command.RemoteArguments(),
            Language = SourceLanguage.PreprocessedC,
            Preprocessed = preprocessed,
            SourceName = "bad.c",
            OutputName = "bad.o",
            Locale = s_cLocale,
        }, CancellationToken.None);

        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(1, reply.Outcome!.ExitCode);
        Assert.True(reply.Outcome.Object.IsEmpty);
        var remoteStderr = System.Text.Encoding.UTF8.GetString(reply.Outcome.Stderr.Span);

        // The node has no bad.c to quote source lines from, so compare gcc's located messages.
        var located = local.Stderr.Split('\n').Where(l => l.StartsWith("bad.c", StringComparison.Ordinal)).ToList();
        Assert.Contains(located, l => l.Contains("error: 'undefined_name' undeclared", StringComparison.Ordinal));
        foreach (var line in located)
        {
            Assert.Contains(line, remoteStderr, StringComparison.Ordinal);
        }

        Assert.Equal(1, node.Node.Counters.CompilesFailed);
    }

    [Fact]
    public async Task SeveralJobsShareOneConnection()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient();
        for (var i = 0; i < 3; i++)
        {
            var reply = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(value: i), CancellationToken.None);
            Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
            Assert.Equal(0, reply.Outcome!.ExitCode);
        }

        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(3, node.Node.Counters.KilnJobs);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task APreparedConnectionCarriesTheJob()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient();
        var host = ProtocolTestKit.Host(node);

        // Prepared twice (as two preprocessing rounds of one compile could): still one connection.
        client.Prepare(host);
        client.Prepare(host);
        var reply = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.NotNull(client.LastWelcome(host));

        // A connection is idle now: preparing again opens none.
        client.Prepare(host);
        Assert.True((await client.CompileAsync(host, ProtocolTestKit.SmallRequest(value: 2), CancellationToken.None)).Status == RemoteStatus.Completed);
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task APreparedConnectionToNoNodeFailsTheJobWithTheConnectError()
    {
        using var client = new KilnProtocolClient();
        // A port on 127.0.0.1 that nothing listens on: bound once, then closed.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var host = ProtocolTestKit.Host(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
        client.Prepare(host);
        var reply = await client.CompileAsync(host, ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains($"node 127.0.0.1:{port}: cannot connect", reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, client.ConnectionsOpened);
    }

    [Fact]
    public async Task RefusalAnsweredBeforeTheInputEndsLeavesTheConnectionUsable()
    {
        await using var node = await TestNode.StartAsync();
        using var client = new KilnProtocolClient(new KilnClientOptions { WriteGroupBytes = 64 << 10 });

        // 4 MiB of input behind a JOB the node refuses at once: the node answers before the input is in.
        var big = new byte[4 << 20];
        new Random(9).NextBytes(big);
        var refused = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(compiler: "sh") with { Preprocessed = big }, CancellationToken.None);
        Assert.Equal(RemoteStatus.Refused, refused.Status);
        Assert.Contains("'sh'", refused.Message, StringComparison.Ordinal);

        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(), CancellationToken.None);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(0, node.Node.Counters.ProtocolErrors);
    }

    [Fact]
    public async Task WelcomeNamesTheNodeAndItsSlots()
    {
        await using var node = await TestNode.StartAsync(slots: 3, plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(min: 1, max: 7));
        var welcome = await peer.ReadWelcomeAsync();
        Assert.Equal(KilnProtocol.Version, welcome.Version);
        Assert.Equal("test-node", welcome.NodeName);
        Assert.Equal(3, welcome.Slots);
        Assert.Equal(3, welcome.FreeSlots);
        Assert.True(welcome.Capabilities.HasFlag(KilnCapabilities.Compile));
    }

    [Fact]
    public async Task SessionRunsOverAnyDuplexPipe()
    {
        // kiln serve --stdio runs the same session on standard input and output; pipes stand in for them.
        using var jobs = new TempDirectory("kiln-jobs");
        using var executor = new CompileExecutor(new CompileExecutorOptions { Slots = 1, JobRoot = jobs.Path }, new NodeCounters());
        var toServer = new Pipe();
        var toClient = new Pipe();
        var session = new KilnSession(executor, new KilnSessionOptions(), "pipe-node", NullLogger.Instance,
            new DuplexPipe(toServer.Reader, toClient.Writer), "stdio");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var run = session.RunAsync(cts.Token);

        var source = "int twice(int x) { return 2 * x; }\n"u8.ToArray();
        var output = toServer.Writer.AsStream();
        await output.WriteAsync(RawKilnPeer.Hello(), cts.Token);
        await output.WriteAsync(RawKilnPeer.Job("gcc", ["-O2"], source.Length), cts.Token);
        await output.WriteAsync(RawKilnPeer.Input(source, last: true), cts.Token);
        await toServer.Writer.CompleteAsync();

        var input = toClient.Reader.AsStream();
        var header = new byte[KilnFrameHeader.Size];
        await input.ReadExactlyAsync(header, cts.Token);
        Assert.Equal((byte)KilnFrameType.Welcome, header[0]);
        await input.ReadExactlyAsync(new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4))], cts.Token);
        await input.ReadExactlyAsync(header, cts.Token);
        Assert.Equal((byte)KilnFrameType.Result, header[0]);
        var payload = new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4))];
        await input.ReadExactlyAsync(payload, cts.Token);
        Assert.True(KilnResult.TryParse(payload, out var result, out var error), error?.Message);
        Assert.Equal(0, result.ExitCode);
        Assert.False(result.Object.IsEmpty);

        // The peer's end of input ends the session cleanly.
        await run.WaitAsync(cts.Token);
        Assert.Equal(0, executor.Counters.ProtocolErrors);
        Assert.Equal(1, executor.Counters.KilnJobs);
    }
}
