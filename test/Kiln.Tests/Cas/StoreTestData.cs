using System.Security.Cryptography;
using Kiln.Core.Cas;
using Kiln.Core.Hashing;

namespace Kiln.Tests.Cas;

/// <summary>Deterministic blobs and checks shared by the store tests.</summary>
public static class StoreTestData
{
    /// <summary>Pseudo-random bytes from a fixed seed.</summary>
    public static byte[] Bytes(int seed, int size)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Puts bytes under their digest and asserts the write succeeded.</summary>
    public static async Task<Digest> PutAsync(IContentStore store, byte[] bytes)
    {
        var digest = Digest.FromBytes(bytes);
        var result = await store.PutAsync(digest, new MemoryStream(bytes, writable: false), CancellationToken.None);
        Assert.True(result.Ok, $"put {digest}: {result.Status} {result.Message}");
        return digest;
    }

    /// <summary>Reads a blob whole, or null when absent.</summary>
    public static async Task<byte[]?> ReadAsync(IContentStore store, Digest digest)
    {
        await using var stream = await store.OpenReadAsync(digest, CancellationToken.None);
        if (stream is null)
        {
            return null;
        }

        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>Hashes every blob file and asserts it matches its name; returns how many there are.</summary>
    public static int AssertEveryFileMatchesItsName(string directory)
    {
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(directory, "cas"), "*", SearchOption.AllDirectories))
        {
            using var stream = File.OpenRead(file);
            var hex = Convert.ToHexStringLower(SHA256.HashData(stream));
            Assert.Equal(Path.GetFileName(file), hex);
            Assert.Equal(Path.GetFileName(Path.GetDirectoryName(file)), hex[..2]);
            count++;
        }

        return count;
    }

    /// <summary>Files left in the store's temporary folder.</summary>
    public static string[] TempFiles(string directory) =>
        Directory.Exists(Path.Combine(directory, "tmp")) ? Directory.GetFiles(Path.Combine(directory, "tmp")) : [];
}
