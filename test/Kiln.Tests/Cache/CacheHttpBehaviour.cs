using System.Net;
using System.Net.Http.Headers;
using Kiln.Core.Hashing;
using Kiln.Server.Cache;

namespace Kiln.Tests.Cache;

/// <summary>
/// The HTTP behaviour of the ccache and Bazel front ends, run by each subclass against a different
/// store (the node's real store, and an in-memory one used for injected failures).
/// </summary>
public abstract class CacheHttpBehaviour : IAsyncLifetime
{
    // ccache 4.7.5's spelling of one key and the same key in its Bazel layout (from its own log).
    private const string OldKey = "3d78dsok0un8u1pif98nigpmqp2meqsks";
    private const string Hex40 = "3d786f31407ae8f07327a51794336d645676b94e";
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private HttpClient _http = null!;

    /// <summary>The server under test, e.g. <c>http://127.0.0.1:PORT/</c>.</summary>
    protected Uri BaseAddress { get; private set; } = null!;

    protected HttpClient Http => _http;

    /// <summary>Starts the server and returns its base address.</summary>
    protected abstract Task<Uri> StartServerAsync();

    /// <summary>Stops the server.</summary>
    protected abstract ValueTask StopServerAsync();

    public async Task InitializeAsync()
    {
        BaseAddress = await StartServerAsync();
        _http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await StopServerAsync();
    }

    protected static byte[] RandomBytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected static ByteArrayContent Body(byte[] bytes) => new(bytes);

    protected async Task<byte[]?> GetBytesAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
        return bytes;
    }

    /// <summary>Refused uploads so far, summed over the front ends, from <c>/api/cache</c>.</summary>
    protected async Task<long> RefusedAsync()
    {
        using var json = System.Text.Json.JsonDocument.Parse(await _http.GetStringAsync(CacheStatsEndpoint.Path));
        long total = 0;
        foreach (var frontEnd in json.RootElement.EnumerateObject())
        {
            total += frontEnd.Value.GetProperty("refused").GetInt64();
        }

        return total;
    }

    /// <summary>Waits until the node has counted <paramref name="count"/> refused uploads.</summary>
    protected async Task WaitForRefusedAsync(long count, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await RefusedAsync() < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after 30 s waiting for the node to refuse {what}");
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Ccache_entry_written_in_one_layout_is_read_back_exactly_in_every_layout()
    {
        var value = RandomBytes(1, 3000);
        using var put = await _http.PutAsync("/ccache/3d/" + OldKey[2..], Body(value));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(0, put.Content.Headers.ContentLength);

        Assert.Equal(value, await GetBytesAsync("/ccache/3d/" + OldKey[2..]));
        Assert.Equal(value, await GetBytesAsync("/ccache/" + OldKey));
        Assert.Equal(value, await GetBytesAsync("/ccache/ac/" + Hex40 + Hex40[..24]));
        Assert.Equal(value, await GetBytesAsync("/ccache/" + Hex40));
        Assert.Equal(value, await GetBytesAsync("/ccache/3d/" + Hex40[2..]));

        using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/ccache/" + OldKey));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(value.Length, head.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Ccache_miss_is_404_for_get_and_head()
    {
        using var get = await _http.GetAsync("/ccache/" + Hex40);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.NotNull(get.Content.Headers.ContentLength);
        using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/ccache/" + Hex40));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task Ccache_put_replaces_an_existing_entry()
    {
        using (var first = await _http.PutAsync("/ccache/" + OldKey, Body("manifest v1"u8.ToArray())))
        {
            Assert.True(first.IsSuccessStatusCode);
        }

        using (var second = await _http.PutAsync("/ccache/" + OldKey, Body("manifest v2, longer"u8.ToArray())))
        {
            Assert.True(second.IsSuccessStatusCode);
        }

        Assert.Equal("manifest v2, longer"u8.ToArray(), await GetBytesAsync("/ccache/3d/" + OldKey[2..]));
    }

    [Fact]
    public async Task Ccache_delete_answers_204_whether_or_not_the_entry_exists()
    {
        using (var put = await _http.PutAsync("/ccache/" + Hex40, Body([1, 2, 3])))
        {
            Assert.True(put.IsSuccessStatusCode);
        }

        using (var delete = await _http.DeleteAsync("/ccache/" + OldKey))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Null(await GetBytesAsync("/ccache/" + Hex40));
        using var again = await _http.DeleteAsync("/ccache/" + OldKey);
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
    }

    [Fact]
    public async Task Ccache_large_entry_round_trips()
    {
        var value = RandomBytes(2, 5_000_000);
        using (var put = await _http.PutAsync("/ccache/" + Hex40, Body(value)))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Equal(value, await GetBytesAsync("/ccache/" + OldKey));
    }

    [Theory]
    [InlineData("/ccache/")]
    [InlineData("/ccache/zz")]
    [InlineData("/ccache/3d78dsok0un8u1pif98nigpmqp2meqskt")]
    [InlineData("/ccache/3d/78/dsok0un8u1pif98nigpmqp2meqsks")]
    [InlineData("/ccache/3d%2F78dsok0un8u1pif98nigpmqp2meqsks")]
    [InlineData("/ccache/ac/0000000000000000000000000000000000000000ffffffffffffffffffffffff")]
    public async Task Ccache_bad_key_is_400_with_a_text_reason(string path)
    {
        using var response = await _http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("ccache key", await response.Content.ReadAsStringAsync());
        using var put = await _http.PutAsync(path, Body([1]));
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/ccache/" + Hex40)]
    [InlineData("PATCH", "/ccache/" + OldKey)]
    [InlineData("DELETE", "/bazel/cas/" + EmptySha256)]
    [InlineData("POST", "/bazel/ac/" + EmptySha256)]
    [InlineData("PROPFIND", "/bazel/cas/" + EmptySha256)]
    public async Task Wrong_method_is_405_with_allow(string method, string path)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = Body([1]) });
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("PUT", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task Bazel_blob_put_get_head_with_and_without_instance_prefix()
    {
        var blob = RandomBytes(3, 70_000);
        var digest = Digest.FromBytes(blob);
        using (var put = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(blob)))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using (var again = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(blob)))
        {
            Assert.True(again.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, again.StatusCode.ToString());
        }

        Assert.Equal(blob, await GetBytesAsync("/bazel/cas/" + digest.Hex));
        Assert.Equal(blob, await GetBytesAsync("/bazel/some/instance/cas/" + digest.Hex));
        using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/bazel/cas/" + digest.Hex));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(blob.Length, head.Content.Headers.ContentLength);
        Assert.Null(await GetBytesAsync("/bazel/cas/" + Digest.FromBytes([9, 9]).Hex));
    }

    [Fact]
    public async Task Bazel_empty_blob_always_exists()
    {
        Assert.Equal(Array.Empty<byte>(), await GetBytesAsync("/bazel/cas/" + EmptySha256));
        using var head = await _http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/bazel/cas/" + EmptySha256));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        using var put = await _http.PutAsync("/bazel/cas/" + EmptySha256, Body([]));
        Assert.True(put.IsSuccessStatusCode);
    }

    [Fact]
    public async Task Bazel_blob_whose_bytes_do_not_match_the_digest_is_400_and_the_stored_blob_stays()
    {
        var blob = RandomBytes(4, 10_000);
        var digest = Digest.FromBytes(blob);
        var forged = (byte[])blob.Clone();
        forged[5000] ^= 0xff;

        // Nothing is stored for a forged upload of an absent blob.
        using (var first = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(forged)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
            Assert.Contains("digest", await first.Content.ReadAsStringAsync());
        }

        Assert.Null(await GetBytesAsync("/bazel/cas/" + digest.Hex));

        // A forged upload over a stored blob leaves it intact.
        using (var good = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(blob)))
        {
            Assert.True(good.IsSuccessStatusCode);
        }

        using (var second = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(forged)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        }

        Assert.Equal(blob, await GetBytesAsync("/bazel/cas/" + digest.Hex));
    }

    [Fact]
    public async Task Bazel_blob_put_without_content_length_is_411()
    {
        var blob = RandomBytes(5, 100);
        var content = new StreamContent(new MemoryStream(blob));
        using var request = new HttpRequestMessage(HttpMethod.Put, "/bazel/cas/" + Digest.FromBytes(blob).Hex) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.LengthRequired, response.StatusCode);
        Assert.Null(await GetBytesAsync("/bazel/cas/" + Digest.FromBytes(blob).Hex));
    }

    [Fact]
    public async Task Truncated_uploads_store_nothing_and_the_node_keeps_serving()
    {
        var blob = RandomBytes(6, 100_000);
        var digest = Digest.FromBytes(blob);
        await SendTruncatedAsync($"PUT /bazel/cas/{digest.Hex} HTTP/1.1\r\nContent-Length: {blob.Length}", blob[..40_000], "the truncated CAS upload");
        Assert.Null(await GetBytesAsync("/bazel/cas/" + digest.Hex));

        await SendTruncatedAsync($"PUT /ccache/{Hex40} HTTP/1.1\r\nContent-Length: {blob.Length}", blob[..1000], "the truncated ccache upload");
        Assert.Null(await GetBytesAsync("/ccache/" + Hex40));

        await SendTruncatedAsync($"PUT /bazel/ac/{digest.Hex} HTTP/1.1\r\nContent-Length: 500", [0x12, 0x03], "the truncated ActionResult upload");
        Assert.Null(await GetBytesAsync("/bazel/ac/" + digest.Hex));

        using var put = await _http.PutAsync("/bazel/cas/" + digest.Hex, Body(blob));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(blob, await GetBytesAsync("/bazel/cas/" + digest.Hex));
    }

    /// <summary>
    /// Sends part of a body and half-closes. Kestrel either hands the request to the endpoint, which
    /// answers 400 and counts a refusal (or counts it and finds the client gone), or, when the end of
    /// the stream arrives with the headers, closes the connection without dispatching it (about 1 in
    /// 25 here): then there is no refusal to count. A 400 must have been counted.
    /// </summary>
    private async Task SendTruncatedAsync(string head, byte[] part, string what)
    {
        var refused = await RefusedAsync();
        var (status, text) = await RawHttp.ExchangeAsync(BaseAddress, head, part);
        Assert.True(status is 400 or 0, text);
        if (status == 400)
        {
            await WaitForRefusedAsync(refused + 1, what);
        }
    }

    [Theory]
    [InlineData("GET /bazel/cas/..%2F..%2Fetc%2Fpasswd HTTP/1.1")]
    [InlineData("GET /bazel/%2e%2e/%2e%2e/ac/" + EmptySha256 + "x HTTP/1.1")]
    [InlineData("GET /ccache/%2e%2e%2f%2e%2e%2fetc%2fpasswd HTTP/1.1")]
    [InlineData("GET /ccache/3d%2f78dsok0un8u1pif98nigpmqp2meqsks HTTP/1.1")]
    [InlineData("PUT /bazel/ac/" + EmptySha256 + " HTTP/1.1\r\nContent-Length: 99999999999")]
    [InlineData("PUT /bazel/cas/" + EmptySha256 + " HTTP/1.1\r\nContent-Length: -5")]
    public async Task Hostile_requests_get_a_4xx_and_the_node_keeps_serving(string head)
    {
        var (status, text) = await RawHttp.ExchangeAsync(BaseAddress, head);
        Assert.True(status is >= 400 and < 500, text);
        Assert.Equal(Array.Empty<byte>(), await GetBytesAsync("/bazel/cas/" + EmptySha256));
    }

    [Fact]
    public async Task Bazel_action_result_needs_its_outputs_first_and_then_round_trips()
    {
        var output = RandomBytes(7, 2000);
        var outputDigest = Digest.FromBytes(output);
        var actionResult = new ProtoWriter()
            .Message(2, new ProtoWriter().String(1, "bazel-out/k8-fastbuild/bin/app").Message(2, ProtoWriter.Digest(outputDigest)).Varint(4, 1))
            .Message(6, ProtoWriter.Digest(Digest.Empty))
            .ToArray();
        var actionKey = Digest.FromBytes("an action"u8).Hex;

        // Its output is not in the cache yet: an entry that could never be a hit is refused.
        using (var early = await _http.PutAsync("/bazel/ac/" + actionKey, Body(actionResult)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, early.StatusCode);
            Assert.Contains("upload them to /cas/ first", await early.Content.ReadAsStringAsync());
        }

        Assert.Null(await GetBytesAsync("/bazel/ac/" + actionKey));

        using (var blob = await _http.PutAsync("/bazel/cas/" + outputDigest.Hex, Body(output)))
        {
            Assert.Equal(HttpStatusCode.Created, blob.StatusCode);
        }

        using (var put = await _http.PutAsync("/bazel/ac/" + actionKey, Body(actionResult)))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Equal(actionResult, await GetBytesAsync("/bazel/ac/" + actionKey));
        Assert.Equal(actionResult, await GetBytesAsync("/bazel/main/ac/" + actionKey));
    }

    [Fact]
    public async Task Bazel_action_cache_refuses_what_is_not_an_action_result()
    {
        var key = Digest.FromBytes("another action"u8).Hex;
        using var put = await _http.PutAsync("/bazel/ac/" + key, Body("ccache result bytes"u8.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Contains("ActionResult", await put.Content.ReadAsStringAsync());
        Assert.Null(await GetBytesAsync("/bazel/ac/" + key));
    }

    [Fact]
    public async Task Bazel_action_result_over_the_cap_is_413_before_the_body_is_read()
    {
        var key = Digest.FromBytes("big"u8).Hex;
        var (status, text) = await RawHttp.ExchangeAsync(BaseAddress, $"PUT /bazel/ac/{key} HTTP/1.1\r\nContent-Length: {BazelHttpEndpoints.MaxActionResultBytes + 1}");
        Assert.True(status == 413, text);
    }

    [Fact]
    public async Task Ccache_and_bazel_keys_never_meet()
    {
        // The same 64 hex under /ccache/ac/ (ccache's Bazel layout) and /bazel/ac/ are different entries.
        var hex64 = Hex40 + Hex40[..24];
        using (var put = await _http.PutAsync("/ccache/ac/" + hex64, Body("ccache bytes"u8.ToArray())))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        Assert.Null(await GetBytesAsync("/bazel/ac/" + hex64));
        Assert.Equal("ccache bytes"u8.ToArray(), await GetBytesAsync("/ccache/" + Hex40));
    }

    protected static MediaTypeHeaderValue OctetStream => new("application/octet-stream");
}
