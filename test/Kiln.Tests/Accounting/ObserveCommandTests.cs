using Kiln.Tests.TestKit;

namespace Kiln.Tests.Accounting;

/// <summary><c>kiln explain</c>, <c>kiln status</c> and <c>kiln monitor</c> as a user runs them: the kiln program against a real node.</summary>
public sealed class ObserveCommandTests
{
    [Fact]
    public async Task Explain_says_why_each_compile_ran_where_it_did()
    {
        await using var node = await TestNode.StartAsync();
        using var work = new TempDirectory("kiln-explain");
        work.Write("remote.c", "int r(void) { return 1; }\n");
        work.Write("native.c", "int n(void) { return 2; }\n");
        work.Write("fallback.c", "int f(void) { return 3; }\n");
        work.Write("main.c", "int main(void) { return 0; }\n");
        var env = new Dictionary<string, string?>
        {
            ["KILN_DIR"] = work.Combine("state"),
            ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint}",
            ["KILN_USER"] = "erin",
            ["DISTCC_HOSTS"] = null,
        };

        async Task Cc(params string[] args)
        {
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", .. args], work.Path, env);
            Assert.True(run.ExitCode == 0, $"kiln cc {string.Join(' ', args)}: {run.Stderr}");
        }

        await Cc("-c", "remote.c", "-o", "remote.o");
        await Cc("-march=native", "-c", "native.c", "-o", "native.o");
        await Cc("main.c", "-o", "main");
        env["KILN_HOSTS"] = "127.0.0.1:1";
        await Cc("-c", "fallback.c", "-o", "fallback.o");

        // The same compile again: the local cache answers; then, with the local cache off, the node's.
        env["KILN_HOSTS"] = $"{node.Node.KilnEndPoint}";
        await Cc("-c", "remote.c", "-o", "again.o");
        env["KILN_CACHE_SIZE"] = "0";
        await Cc("-c", "remote.c", "-o", "node-hit.o");
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        var explain = await Tools.RunAsync(Tools.KilnBinary, ["explain"], work.Path, env);
        Assert.True(explain.ExitCode == 0, explain.Stderr);
        var lines = explain.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        Assert.Contains($"remote.c: compiled on {node.Node.KilnEndPoint}", lines[0]);
        Assert.Contains("native.c: compiled here: not distributable (", lines[1]);
        Assert.Contains("-march=native", lines[1]);
        Assert.Contains("compiled here: not distributable (", lines[2]);
        Assert.Contains("fallback.c: compiled here because no node could take it: 127.0.0.1:1 failed", lines[3]);
        Assert.Contains("remote.c: cache hit from the local cache (", lines[4]);
        Assert.Contains($"remote.c: cache hit from {node.Node.KilnEndPoint} (the node's result cache, under the node's default trust policy)", lines[5]);

        // One source: its last compile only.
        var one = await Tools.RunAsync(Tools.KilnBinary, ["explain", "remote.c"], work.Path, env);
        Assert.Contains($"remote.c: cache hit from {node.Node.KilnEndPoint}", Assert.Single(one.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Status_and_monitor_show_the_nodes_accounting()
    {
        await using var node = await TestNode.StartAsync();
        using var work = new TempDirectory("kiln-status");
        work.Write("unit.c", "int u(void) { return 4; }\n");
        var env = new Dictionary<string, string?>
        {
            ["KILN_DIR"] = work.Combine("state"),
            ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint}",
            ["KILN_USER"] = "frank",
            ["KILN_FALLBACK"] = "0",
        };
        var cc = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "unit.c", "-o", "unit.o"], work.Path, env);
        Assert.True(cc.ExitCode == 0, cc.Stderr);
        using var http = new HttpClient();
        await AccountingApi.WrittenAsync(http, node.Node.HttpEndPoint!.ToString(), 1);

        var status = await Tools.RunAsync(Tools.KilnBinary, ["status", "--node", node.Node.HttpEndPoint!.ToString()]);
        Assert.True(status.ExitCode == 0, status.Stderr);
        Assert.Contains("kiln node test-node", status.Stdout);
        Assert.Matches(@"\n  frank\s+1\s+0\s+0\s", status.Stdout);
        Assert.Contains("jobs recorded: 1", status.Stdout);

        var monitor = await Tools.RunAsync(Tools.KilnBinary, ["monitor", "--node", node.Node.HttpEndPoint!.ToString(), "--count", "2", "--interval", "0.2"]);
        Assert.True(monitor.ExitCode == 0, monitor.Stderr);
        Assert.Equal(2, monitor.Stdout.Split("kiln node test-node").Length - 1);

        var down = await Tools.RunAsync(Tools.KilnBinary, ["status", "--node", "127.0.0.1:1"]);
        Assert.Equal(1, down.ExitCode);
        Assert.Contains("could not read node 127.0.0.1:1", down.Stderr);
    }
}
