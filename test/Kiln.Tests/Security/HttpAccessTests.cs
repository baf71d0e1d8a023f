using System.Net;
using System.Text.Json;

namespace Kiln.Tests.Security;

/// <summary>The HTTP listener's rows of docs/security.md: the ccache and Bazel caches and the /api/ admin routes.</summary>
public sealed class HttpAccessTests
{
    private const string CcachePath = "/ccache/0123456789abcdef0123456789abcdef01234567";

    private static string BazelCasPath(byte[] blob) => "/bazel/cas/" + Kiln.Core.Hashing.Digest.FromBytes(blob).Hex;

    private static readonly byte[] s_blob = "object bytes\n"u8.ToArray();

    [Fact]
    public async Task Ccache_no_credentials_is_401_for_get_and_put()
    {
        await using var node = await SecuredNode.StartAsync();
        using var http = node.HttpClient();
        var get = await http.GetAsync(CcachePath);
        Assert.Equal(HttpStatusCode.Unauthorized, get.StatusCode);
        Assert.Contains("Bearer", get.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains("no credentials", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PutAsync(CcachePath, new ByteArrayContent(s_blob))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await node.HttpClient("Bearer kiln_000000000000_wrong").GetAsync(CcachePath)).StatusCode);
    }

    [Fact]
    public async Task Ccache_read_token_may_get_but_not_put()
    {
        await using var node = await SecuredNode.StartAsync();
        using var reader = node.HttpClient("Bearer " + node.Read);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync(CcachePath)).StatusCode);
        var put = await reader.PutAsync(CcachePath, new ByteArrayContent(s_blob));
        Assert.Equal(HttpStatusCode.Forbidden, put.StatusCode);
        Assert.Contains("has role read; this request needs write", await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.DeleteAsync(CcachePath)).StatusCode);
    }

    [Fact]
    public async Task Ccache_write_token_puts_with_basic_credentials_and_read_token_gets_it()
    {
        await using var node = await SecuredNode.StartAsync();
        using var writer = node.HttpClient(SecuredNode.Basic(node.Write));
        Assert.Equal(HttpStatusCode.Created, (await writer.PutAsync(CcachePath, new ByteArrayContent(s_blob))).StatusCode);
        using var reader = node.HttpClient("Bearer " + node.Read);
        Assert.Equal(s_blob, await reader.GetByteArrayAsync(CcachePath));
    }

    [Fact]
    public async Task Bazel_no_credentials_is_401()
    {
        await using var node = await SecuredNode.StartAsync();
        using var http = node.HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(BazelCasPath(s_blob))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PutAsync(BazelCasPath(s_blob), new ByteArrayContent(s_blob))).StatusCode);
    }

    [Fact]
    public async Task Bazel_read_token_may_get_but_not_put()
    {
        await using var node = await SecuredNode.StartAsync();
        using var reader = node.HttpClient(SecuredNode.Basic(node.Read));
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync(BazelCasPath(s_blob))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PutAsync(BazelCasPath(s_blob), new ByteArrayContent(s_blob))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PutAsync("/bazel/ac/" + new string('1', 64), new ByteArrayContent([]))).StatusCode);
    }

    [Fact]
    public async Task Bazel_write_token_puts_with_basic_credentials()
    {
        await using var node = await SecuredNode.StartAsync();
        using var writer = node.HttpClient(SecuredNode.Basic(node.Write));
        Assert.Equal(HttpStatusCode.Created, (await writer.PutAsync(BazelCasPath(s_blob), new ByteArrayContent(s_blob))).StatusCode);
        Assert.Equal(s_blob, await writer.GetByteArrayAsync(BazelCasPath(s_blob)));
    }

    [Fact]
    public async Task Api_no_credentials_is_401()
    {
        await using var node = await SecuredNode.StartAsync();
        using var http = node.HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/tokens")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/metrics")).StatusCode);

        // The node list alone is public (it is what multicast DNS announces); changing it is not.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/nodes")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/api/nodes", new ByteArrayContent([]))).StatusCode);
    }

    [Fact]
    public async Task Api_tokens_need_admin_and_stats_need_read()
    {
        await using var node = await SecuredNode.StartAsync();
        using var builder = node.HttpClient("Bearer " + node.Execute);
        var tokens = await builder.GetAsync("/api/tokens");
        Assert.Equal(HttpStatusCode.Forbidden, tokens.StatusCode);
        Assert.Contains("has role execute; this request needs admin", await tokens.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var reader = node.HttpClient("Bearer " + node.Read);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/stats")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync("/api/stats", new ByteArrayContent([]))).StatusCode);
    }

    [Fact]
    public async Task Api_admin_lists_tokens_without_secrets()
    {
        await using var node = await SecuredNode.StartAsync();
        using var admin = node.HttpClient("Bearer " + node.Admin);
        var text = await admin.GetStringAsync("/api/tokens");
        var listed = JsonDocument.Parse(text).RootElement.EnumerateArray().Select(e => (e.GetProperty("name").GetString(), e.GetProperty("role").GetString())).ToList();
        Assert.Equal([("builder", "execute"), ("operator", "admin"), ("reader", "read"), ("writer", "write")], listed);
        foreach (var token in new[] { node.Read, node.Write, node.Execute, node.Admin })
        {
            Assert.DoesNotContain(token.Split('_')[2], text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Garbage_authorization_headers_are_401_and_the_node_keeps_serving()
    {
        await using var node = await SecuredNode.StartAsync();
        foreach (var header in new[] { "Basic !!!notbase64", "Bearer", "Digest abc", "Basic " + Convert.ToBase64String(new byte[] { 0xff, 0xfe, 0x3a }), "Bearer " + new string('k', 5000) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, CcachePath);
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var http = node.HttpClient();
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await node.HttpClient("Bearer " + node.Read).GetAsync(CcachePath)).StatusCode);
    }
}
