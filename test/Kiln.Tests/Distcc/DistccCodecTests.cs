using System.Text;
using Kiln.Core.Distcc;

namespace Kiln.Tests.Distcc;

public class DistccCodecTests
{
    [Fact]
    public async Task V1RequestMatchesTheResearchNoteExampleByteForByte()
    {
        // distcc's own protocol-1 example: gcc -c hello.c -o hello.o with a 0x2f3a-byte .i.
        var doti = new byte[0x2f3a];
        new Random(7).NextBytes(doti);
        var request = DistccTestKit.Request(1, ["gcc", "-c", "hello.c", "-o", "hello.o"], doti);
        var expectedHeaders = "DIST00000001ARGC00000005ARGV00000003gccARGV00000002-cARGV00000007hello.c"
            + "ARGV00000002-oARGV00000007hello.oDOTI00002f3a";
        Assert.Equal(expectedHeaders, Encoding.ASCII.GetString(request, 0, expectedHeaders.Length));
        Assert.Equal(doti, request[expectedHeaders.Length..]);

        var reader = new DistccReader(new MemoryStream(request), TimeSpan.FromSeconds(5));
        Assert.Equal(1u, await reader.ExpectAsync("DIST", CancellationToken.None));
        Assert.Equal(5u, await reader.ExpectAsync("ARGC", CancellationToken.None));
        Assert.Equal("gcc", await reader.ReadStringAsync("ARGV", 100, CancellationToken.None));
    }

    [Theory]
    [InlineData("DONE", 0u, "DONE00000000")]
    [InlineData("STAT", 0x100u, "STAT00000100")]
    [InlineData("DOTO", 0xdeadbeefu, "DOTOdeadbeef")]
    [InlineData("ARGC", uint.MaxValue, "ARGCffffffff")]
    public void HeaderEncodesLowercaseHex(string token, uint value, string wire)
    {
        Assert.Equal(wire, Encoding.ASCII.GetString(DistccHeaderCodec.Encode(token, value)));
        Assert.True(DistccHeaderCodec.TryParse(Encoding.ASCII.GetBytes(wire), out var header, out _));
        Assert.Equal(new DistccHeader(token, value), header);
    }

    [Theory]
    [InlineData("DIST0000000G", "no eight-digit hex value")]
    [InlineData("DIST 0000001", "no eight-digit hex value")]
    [InlineData("DIST+0000001", "no eight-digit hex value")]
    [InlineData("DIST0x000001", "no eight-digit hex value")]
    [InlineData("dist00000001", "not a distcc token")]
    [InlineData("GET / HTTP/1", "not a distcc token")]
    [InlineData("\0\u0001\u0002\u000300000001", "not a distcc token: \"\\x00\\x01\\x02\\x03")]
    public void HeaderParsingIsStrict(string wire, string message)
    {
        Assert.False(DistccHeaderCodec.TryParse(Encoding.Latin1.GetBytes(wire), out _, out var error));
        Assert.Contains(message, error);
    }

    [Fact]
    public void UppercaseHexIsAcceptedAsDistccsStrtoulDoes()
    {
        Assert.True(DistccHeaderCodec.TryParse("DOTO0000ABCD"u8, out var header, out _));
        Assert.Equal(0xabcdu, header.Value);
    }

    [Fact]
    public async Task ReaderNamesTheExpectedAndTheReceivedToken()
    {
        var reader = new DistccReader(new MemoryStream("ARGV00000003gcc"u8.ToArray()), TimeSpan.FromSeconds(5));
        var e = await Assert.ThrowsAsync<DistccProtocolException>(async () => await reader.ExpectAsync("ARGC", CancellationToken.None));
        Assert.Equal("protocol derailment: expected ARGC, got ARGV00000003", e.Message);
    }

    [Fact]
    public async Task ReaderRefusesAnOversizeLengthBeforeReadingIt()
    {
        var reader = new DistccReader(new MemoryStream("DOTIffffffff"u8.ToArray()), TimeSpan.FromSeconds(5));
        var length = await reader.ExpectAsync("DOTI", CancellationToken.None);
        var e = await Assert.ThrowsAsync<DistccProtocolException>(async () =>
            await reader.ReadBodyAsync("DOTI", length, false, DistccLimits.MaxBodyBytes, CancellationToken.None));
        Assert.Contains("4294967295 bytes exceeds the limit", e.Message);
    }

    [Fact]
    public async Task ReaderReportsATruncatedBody()
    {
        var reader = new DistccReader(new MemoryStream("DOTI00000010abc"u8.ToArray()), TimeSpan.FromSeconds(5));
        var length = await reader.ExpectAsync("DOTI", CancellationToken.None);
        var e = await Assert.ThrowsAsync<DistccProtocolException>(async () =>
            await reader.ReadBodyAsync("DOTI", length, false, 100, CancellationToken.None));
        Assert.Contains("connection closed in the middle of DOTI (3 of 16 bytes)", e.Message);
    }

    [Fact]
    public void LzoCompressesAShortLiteralToTheKnownStream()
    {
        // A literal run of 3 (17 + 3 = 0x14), the bytes, then LZO1X's end-of-stream marker 0x11 0x00 0x00.
        byte[] known = [0x14, (byte)'a', (byte)'b', (byte)'c', 0x11, 0x00, 0x00];
        Assert.Equal(known, Lzo1x.Compress("abc"u8));
        Assert.True(Lzo1x.TryDecompress(known, 1024, out var plain, out var error), error);
        Assert.Equal("abc"u8.ToArray(), plain);
    }

    [Fact]
    public void LzoRoundTripsTextAndRandomBytes()
    {
        var random = new Random(1234);
        foreach (var size in new[] { 1, 100, 4096, 200_000, 1 << 20 })
        {
            var data = new byte[size];
            if (size % 2 == 0)
            {
                random.NextBytes(data);
            }
            else
            {
                Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("int x; /* text compresses */\n", size / 29 + 1)).AsSpan(0, size), data);
            }

            var compressed = Lzo1x.Compress(data);
            Assert.True(Lzo1x.TryDecompress(compressed, 2 << 20, out var plain, out var error), error);
            Assert.Equal(data, plain);
        }
    }

    [Fact]
    public void LzoDecompressionStopsAtTheCap()
    {
        // 16 MiB of zeros compress to a few KiB: a hostile body that would expand far past the cap.
        var compressed = Lzo1x.Compress(new byte[16 << 20]);
        Assert.True(compressed.Length < 100_000);
        Assert.False(Lzo1x.TryDecompress(compressed, 1 << 20, out var plain, out var error));
        Assert.Empty(plain);
        Assert.Contains("more than the limit of 1048576 bytes", error);
    }

    [Fact]
    public void LzoRefusesACorruptStream()
    {
        var garbage = new byte[300];
        new Random(99).NextBytes(garbage);
        garbage[0] = 0x20; // a literal run longer than the stream
        Assert.False(Lzo1x.TryDecompress(garbage, 1 << 20, out _, out var error));
        Assert.Contains("corrupt LZO1X stream", error);
    }

    [Theory]
    [InlineData(0, 0u)]
    [InlineData(1, 0x100u)]
    [InlineData(101, 0x6500u)]
    [InlineData(128 + 9, 9u)]
    public void WaitStatusMapsExitCodesBothWays(int exitCode, uint status)
    {
        Assert.Equal(status, DistccWaitStatus.FromExitCode(exitCode));
        Assert.Equal(exitCode, DistccWaitStatus.ToExitCode(status));
    }
}
