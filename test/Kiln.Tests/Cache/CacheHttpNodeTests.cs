using System.Net;
using Kiln.Core.Hashing;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cache;

/// <summary>The front ends on a real in-process node over its FileContentStore and SQLite action cache.</summary>
public sealed class CacheHttpNodeTests : CacheHttpBehaviour
{
    private const long CacheSize = 8L << 20;
    private TestNode _node = null!;

    protected override async Task<Uri> StartServerAsync()
    {
        _node = await TestNode.StartAsync(configure: o => o.CacheSizeBytes = CacheSize);
        return new Uri($"http://{_node.Node.HttpEndPoint}/");
    }

    protected override ValueTask StopServerAsync() => _node.DisposeAsync();

    [Fact]
    public async Task Blob_larger_than_the_store_answers_413_and_the_node_keeps_serving()
    {
        var blob = RandomBytes(21, (int)CacheSize + 1);
        var digest = Digest.FromBytes(blob);
        var refused = await RefusedAsync();
        var (status, text) = await RawHttp.ExchangeAsync(BaseAddress, $"PUT /bazel/cas/{digest.Hex} HTTP/1.1\r\nContent-Length: {blob.Length}");
        Assert.True(status == 413, text);
        Assert.Contains("at most", text);

        using (var ccache = await Http.PutAsync("/ccache/3d786f31407ae8f07327a51794336d645676b94e", Body(blob)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, ccache.StatusCode);
        }

        Assert.Equal(refused + 2, await RefusedAsync());
        Assert.Null(await GetBytesAsync("/bazel/cas/" + digest.Hex));
        Assert.Null(await GetBytesAsync("/ccache/3d786f31407ae8f07327a51794336d645676b94e"));
        var small = RandomBytes(22, 1000);
        using var put = await Http.PutAsync("/bazel/cas/" + Digest.FromBytes(small).Hex, Body(small));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Store_counts_action_cache_hits_and_misses_per_namespace()
    {
        using (var put = await Http.PutAsync("/ccache/3d786f31407ae8f07327a51794336d645676b94e", Body([1, 2, 3])))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.NotNull(await GetBytesAsync("/ccache/3d78dsok0un8u1pif98nigpmqp2meqsks"));
        Assert.Null(await GetBytesAsync("/ccache/0000000000000000000000000000000000000000"));
        Assert.Null(await GetBytesAsync("/bazel/ac/" + Digest.FromBytes("x"u8).Hex));

        var stats = await Http.GetStringAsync("/api/stats");
        using var json = System.Text.Json.JsonDocument.Parse(stats);
        var namespaces = json.RootElement.GetProperty("cache").GetProperty("namespaces");
        Assert.True(namespaces.ValueKind == System.Text.Json.JsonValueKind.Array, stats);
        var ccache = namespaces.EnumerateArray().Single(n => n.GetProperty("namespace").GetString() == "ccache");
        Assert.Equal(1, ccache.GetProperty("hits").GetInt64());
        Assert.Equal(1, ccache.GetProperty("misses").GetInt64());
        Assert.Equal(1, ccache.GetProperty("puts").GetInt64());
        var bazel = namespaces.EnumerateArray().Single(n => n.GetProperty("namespace").GetString() == "bazel-ac");
        Assert.Equal(1, bazel.GetProperty("misses").GetInt64());
    }
}
