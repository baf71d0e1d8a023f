using System.Text.Json;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.CompileCache;

/// <summary><c>kiln stats</c> against a node and a local cache that two compiles of the same file filled.</summary>
public sealed class StatsCommandTests
{
    [Fact]
    public async Task StatsShowTheNodesFrontEndsAndTheLocalCache()
    {
        await using var node = await TestNode.StartAsync();
        using var dir = new TempDirectory("kiln-stats");
        dir.Write("s.c", "int s(void) { return 1; }\n");
        var environment = new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = node.Node.KilnEndPoint.ToString(),
            ["DISTCC_HOSTS"] = null,
            ["KILN_DIR"] = dir.Combine("state"),
            ["KILN_FALLBACK"] = "0",
            ["KILN_CACHE_SIZE"] = "64M",
        };
        for (var i = 0; i < 2; i++)
        {
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", "s.c", "-o", "s.o"], dir.Path, environment, TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 0, run.Stderr);
        }

        var http = node.Node.HttpEndPoint!.ToString();
        var stats = await Tools.RunAsync(Tools.KilnBinary, ["stats", "--node", http, "--json"], dir.Path, environment, TimeSpan.FromMinutes(1));
        Assert.True(stats.ExitCode == 0, stats.Stderr);
        using var json = JsonDocument.Parse(stats.Stdout);
        var frontEnds = json.RootElement.GetProperty("nodes")[0].GetProperty("frontEnds");
        Assert.Equal(1, frontEnds.GetProperty("kiln").GetProperty("misses").GetInt64());
        Assert.Equal(1, frontEnds.GetProperty("kiln").GetProperty("writes").GetInt64());
        Assert.Equal(0, frontEnds.GetProperty("ccache").GetProperty("hits").GetInt64());
        var local = json.RootElement.GetProperty("local");
        Assert.Equal(64L << 20, local.GetProperty("capacityBytes").GetInt64());
        Assert.Equal(1, local.GetProperty("misses").GetInt64());

        // The second compile was answered here in direct mode: s.c was written before the first compile
        // started, so the manifest has its digest (ccache's rule for files too new to record).
        Assert.Equal(1, local.GetProperty("directHits").GetInt64());
        Assert.Equal(0, local.GetProperty("preprocessedHits").GetInt64());
        Assert.Equal(1, local.GetProperty("results").GetInt64());
        Assert.True(local.GetProperty("sizeBytes").GetInt64() > 0);

        var text = await Tools.RunAsync(Tools.KilnBinary, ["stats", "--node", http], dir.Path, environment, TimeSpan.FromMinutes(1));
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("kiln ", text.Stdout);
        Assert.Contains("direct hits 1, preprocessed hits 0", text.Stdout);

        // A node that does not answer is reported, with exit 1.
        var down = await Tools.RunAsync(Tools.KilnBinary, ["stats", "--node", "127.0.0.1:1"], dir.Path, environment, TimeSpan.FromMinutes(1));
        Assert.Equal(1, down.ExitCode);
        Assert.Contains("not reachable", down.Stdout);
    }
}
