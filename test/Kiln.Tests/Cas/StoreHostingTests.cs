using System.Net.Http.Json;
using System.Text.Json;
using Kiln.Cli.Serve;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cas;

public sealed class StoreHostingTests
{
    [Fact]
    public async Task ApiStatsReportsTheCacheCapAndContents()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.CacheSizeBytes = 64L << 20);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{node.Node.HttpEndPoint}/") };

        using var stats = await http.GetFromJsonAsync<JsonDocument>("api/stats");

        var cache = stats!.RootElement.GetProperty("cache");
        Assert.Equal(64L << 20, cache.GetProperty("capacityBytes").GetInt64());
        Assert.Equal(0, cache.GetProperty("blobCount").GetInt64());
        Assert.Equal(0, cache.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(JsonValueKind.Array, cache.GetProperty("namespaces").ValueKind);
        Assert.True(File.Exists(Path.Combine(node.DataDirectory, "index.sqlite")));
        Assert.True(Directory.Exists(Path.Combine(node.DataDirectory, "cas")));
    }

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("64K", 64L << 10)]
    [InlineData("512M", 512L << 20)]
    [InlineData("10G", 10L << 30)]
    [InlineData("10GiB", 10L << 30)]
    [InlineData("2t", 2L << 40)]
    public void CacheSizesParseAsPowersOf1024(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("10X")]
    [InlineData("-5G")]
    [InlineData("99999999999999T")]
    public void BadCacheSizesAreRejected(string text) => Assert.False(ByteSize.TryParse(text, out _));

    [Fact]
    public async Task ServeRejectsABadCacheSizeWithAClearMessage()
    {
        var run = await Tools.RunAsync(Tools.KilnBinary, ["serve", "--cache-size", "lots"], timeout: TimeSpan.FromSeconds(30));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--cache-size lots: expected a size", run.Stderr);
    }
}
