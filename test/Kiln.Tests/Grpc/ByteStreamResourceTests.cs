using Kiln.Server.Grpc;

namespace Kiln.Tests.Grpc;

public sealed class ByteStreamResourceTests
{
    private const string Hash = "a9993e364706816aba3e25717850c26c9cd0d89d28d1b2b1f5b8c2b2d3f4e5f6";

    [Theory]
    [InlineData("blobs/" + Hash + "/5", "")]
    [InlineData("main/blobs/" + Hash + "/5", "main")]
    [InlineData("a/b/blobs/" + Hash + "/5", "a/b")]
    public void ReadNamesParse(string name, string instance)
    {
        Assert.True(ByteStreamResource.TryParseRead(name, out var resource, out var error), error);
        Assert.Equal(instance, resource.Instance);
        Assert.Equal(Hash, resource.Digest.Hex);
        Assert.Equal(5, resource.Digest.Size);
    }

    [Theory]
    [InlineData("uploads/7c2a/blobs/" + Hash + "/5", "")]
    [InlineData("main/uploads/7c2a/blobs/" + Hash + "/5", "main")]
    [InlineData("uploads/7c2a/blobs/" + Hash + "/5/some/metadata", "")]
    public void WriteNamesParse(string name, string instance)
    {
        Assert.True(ByteStreamResource.TryParseWrite(name, out var resource, out var error), error);
        Assert.Equal(instance, resource.Instance);
        Assert.Equal(5, resource.Digest.Size);
    }

    [Theory]
    [InlineData("")]
    [InlineData("nonsense")]
    [InlineData("blobs/" + Hash)]
    [InlineData("blobs/" + Hash + "/5/extra")]
    [InlineData("blobs/" + Hash + "/-5")]
    [InlineData("blobs/" + Hash + "/five")]
    [InlineData("blobs/abc/5")]
    [InlineData("blobs/sha1/a9993e364706816aba3e25717850c26c9cd0d89d/5")]
    [InlineData("compressed-blobs/zstd/" + Hash + "/5")]
    [InlineData("uploads/7c2a/blobs/" + Hash + "/5")]
    public void BadReadNamesAreRefusedWithAReason(string name)
    {
        Assert.False(ByteStreamResource.TryParseRead(name, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("blobs/" + Hash + "/5")]
    [InlineData("uploads/blobs/" + Hash + "/5")]
    [InlineData("uploads//blobs/" + Hash + "/5")]
    [InlineData("uploads/7c2a/compressed-blobs/zstd/" + Hash + "/5")]
    [InlineData("uploads/7c2a/blobs/" + Hash)]
    public void BadWriteNamesAreRefusedWithAReason(string name)
    {
        Assert.False(ByteStreamResource.TryParseWrite(name, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
