using System.Security.Cryptography;
using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Tests.Hashing;

/// <summary>The managed SHA-256 that small digests use gives exactly what OpenSSL gives.</summary>
public sealed class ManagedSha256Tests
{
    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void KnownAnswers(string text, string expectedHex)
    {
        var hash = new byte[32];
        ManagedSha256.Hash(Encoding.ASCII.GetBytes(text), hash);
        Assert.Equal(expectedHex, Convert.ToHexStringLower(hash));
    }

    [Fact]
    public void EveryLengthAroundTheBlockBoundariesMatchesOpenSsl()
    {
        var random = new Random(20261121);
        var data = new byte[4096 + 7];
        random.NextBytes(data);
        var managed = new byte[32];
        for (var length = 0; length <= data.Length; length += length < 300 ? 1 : 61)
        {
            ManagedSha256.Hash(data.AsSpan(0, length), managed);
            Assert.True(SHA256.HashData(data.AsSpan(0, length)).AsSpan().SequenceEqual(managed), $"length {length}");
        }
    }

    [Fact]
    public void DigestFromBytesAgreesOnBothSidesOfTheManagedLimit()
    {
        var random = new Random(7);
        var data = new byte[Digest.ManagedHashLimit + 1];
        random.NextBytes(data);
        foreach (var length in new[] { Digest.ManagedHashLimit - 1, Digest.ManagedHashLimit, Digest.ManagedHashLimit + 1 })
        {
            var digest = Digest.FromBytes(data.AsSpan(0, length));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data.AsSpan(0, length))), digest.Hex);
            Assert.Equal(length, digest.Size);
        }
    }
}
