using System.Net;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using Kiln.Server.Cache;

namespace Kiln.Tests.Cache;

/// <summary>The front ends over an in-memory store, plus the failures only a controlled store can produce on cue.</summary>
public sealed class CacheHttpMemoryStoreTests : CacheHttpBehaviour
{
    private CacheTestHost _host = null!;

    protected override async Task<Uri> StartServerAsync()
    {
        _host = await CacheTestHost.StartAsync();
        return _host.BaseAddress;
    }

    protected override ValueTask StopServerAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Full_store_answers_507_and_keeps_the_previous_entry()
    {
        const string key = "3d786f31407ae8f07327a51794336d645676b94e";
        using (var first = await Http.PutAsync("/ccache/" + key, Body("v1"u8.ToArray())))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        _host.Store.FailWritesWith = PutStatus.NoSpace;
        using (var second = await Http.PutAsync("/ccache/" + key, Body("v2"u8.ToArray())))
        {
            Assert.Equal(HttpStatusCode.InsufficientStorage, second.StatusCode);
            Assert.Contains("full", await second.Content.ReadAsStringAsync());
        }

        var blob = RandomBytes(11, 1000);
        using (var cas = await Http.PutAsync("/bazel/cas/" + Digest.FromBytes(blob).Hex, Body(blob)))
        {
            Assert.Equal(HttpStatusCode.InsufficientStorage, cas.StatusCode);
        }

        _host.Store.FailWritesWith = null;
        Assert.Equal("v1"u8.ToArray(), await GetBytesAsync("/ccache/" + key));
        Assert.Null(await GetBytesAsync("/bazel/cas/" + Digest.FromBytes(blob).Hex));
    }

    [Fact]
    public async Task Oversize_blob_answers_413_and_stores_nothing()
    {
        _host.Store.MaxBlobSize = 4096;
        var blob = RandomBytes(12, 10_000);
        var before = _host.Store.Count;
        using (var cas = await Http.PutAsync("/bazel/cas/" + Digest.FromBytes(blob).Hex, Body(blob)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, cas.StatusCode);
        }

        using (var ccache = await Http.PutAsync("/ccache/3d786f31407ae8f07327a51794336d645676b94e", Body(blob)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, ccache.StatusCode);
        }

        Assert.Equal(before, _host.Store.Count);
        Assert.Null(_host.Actions.Peek(CcacheEndpoints.Namespace, "3d786f31407ae8f07327a51794336d645676b94e"));
        Assert.Equal(Array.Empty<byte>(), await GetBytesAsync("/bazel/cas/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    }

    [Fact]
    public async Task Entries_record_their_references_and_writer()
    {
        var output = RandomBytes(13, 500);
        var actionResult = new ProtoWriter()
            .Message(2, new ProtoWriter().String(1, "out.o").Message(2, ProtoWriter.Digest(Digest.FromBytes(output))))
            .Message(6, ProtoWriter.Digest(Digest.FromBytes("stdout"u8)))
            .ToArray();
        var key = Digest.FromBytes("action"u8).Hex;
        foreach (var blob in new[] { output, "stdout"u8.ToArray() })
        {
            using var cas = await Http.PutAsync("/bazel/cas/" + Digest.FromBytes(blob).Hex, Body(blob));
            Assert.Equal(HttpStatusCode.Created, cas.StatusCode);
        }

        using var put = await Http.PutAsync("/bazel/ac/" + key, Body(actionResult));
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);

        var entry = _host.Actions.Peek(BazelHttpEndpoints.Namespace, key);
        Assert.NotNull(entry);
        Assert.Equal(Digest.FromBytes(actionResult), entry.Value);
        Assert.Equal([Digest.FromBytes(output), Digest.FromBytes("stdout"u8)], entry.References);
        Assert.Equal("127.0.0.1", entry.Writer);
    }
}
