using System.Buffers;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;

namespace Kiln.Tests.Protocol;

/// <summary>Every frame type against bytes written by hand from docs/protocol.md.</summary>
public sealed class KilnFrameGoldenTests
{
    private static byte[] Hex(string spaced) => Convert.FromHexString(spaced.Replace(" ", "", StringComparison.Ordinal));

    private static ReadOnlyMemory<byte> Payload(byte[] frame) => frame.AsMemory(KilnFrameHeader.Size);

    private static byte[] Frame(Func<Memory<byte>, int> write, int length)
    {
        var bytes = new byte[length];
        Assert.Equal(length, write(bytes));
        return bytes;
    }

    [Fact]
    public void HelloMatchesGoldenBytes()
    {
        var golden = Hex("01 00 0000 00000013" + "4b494c4e 0001 0002 00000003 0001 74 0002 6363");
        var hello = new KilnHello(1, 2, KilnCapabilities.Compile | KilnCapabilities.ResultCache, "t", "cc");
        Assert.Equal(golden, Frame(m => hello.WriteFrame(m.Span), hello.FrameLength));

        Assert.True(KilnHello.TryParse(Payload(golden), out var parsed, out var error), error?.Message);
        Assert.Equal(hello, parsed);
    }

    [Fact]
    public void WelcomeMatchesGoldenBytes()
    {
        var golden = Hex("02 00 0000 0000000e" + "0001 00000001 0002 0001 0002 6e31");
        var welcome = new KilnWelcome(1, KilnCapabilities.Compile, 2, 1, "n1");
        Assert.Equal(golden, Frame(m => welcome.WriteFrame(m.Span), welcome.FrameLength));

        Assert.True(KilnWelcome.TryParse(Payload(golden), out var parsed, out var error), error?.Message);
        Assert.Equal(welcome, parsed);
    }

    private static KilnJob GoldenJob() => new()
    {
        ActionKey = ActionKey.FromBytes(Enumerable.Repeat((byte)0x11, 32).ToArray()),
        InputDigest = Digest.FromHash(Enumerable.Repeat((byte)0x22, 32).ToArray(), 7),
        InputSize = 7,
        Language = SourceLanguage.PreprocessedC,
        Compiler = "gcc",
        Arguments = ["-O2"],
        SourceName = "a.c",
        WorkingDirectory = "/w",
        Locale = new Dictionary<string, string> { ["LANG"] = "C" },
    };

    private static readonly string s_jobHex =
        "03 00 0000 00000068"
        + string.Concat(Enumerable.Repeat("11", 32)) + string.Concat(Enumerable.Repeat("22", 32))
        + "0000000000000007" + "05" + "0003 676363" + "0001" + "0003 2d4f32" + "0003 612e63" + "0002 2f77"
        + "01" + "0004 4c414e47" + "0001 43";

    [Fact]
    public void JobMatchesGoldenBytes()
    {
        var golden = Hex(s_jobHex);
        var job = GoldenJob();
        Assert.Null(job.Validate());
        Assert.Equal(golden, Frame(m => job.WriteFrame(m.Span), job.FrameLength));

        Assert.True(KilnJob.TryParse(Payload(golden), out var parsed, out var error), error?.Message);
        Assert.Equal(job.ActionKey, parsed.ActionKey);
        Assert.Equal(job.InputDigest, parsed.InputDigest);
        Assert.Equal(7, parsed.InputSize);
        Assert.Equal(SourceLanguage.PreprocessedC, parsed.Language);
        Assert.Equal("gcc", parsed.Compiler);
        Assert.Equal(["-O2"], parsed.Arguments);
        Assert.Equal("a.c", parsed.SourceName);
        Assert.Equal("/w", parsed.WorkingDirectory);
        Assert.Equal("C", parsed.Locale["LANG"]);
    }

    [Fact]
    public void JobWithoutKeysCarriesZeros()
    {
        var job = GoldenJob() with { ActionKey = ActionKey.None, InputDigest = null };
        var bytes = Frame(m => job.WriteFrame(m.Span), job.FrameLength);
        Assert.All(bytes.AsSpan(KilnFrameHeader.Size, 64).ToArray(), b => Assert.Equal(0, b));
        Assert.True(KilnJob.TryParse(Payload(bytes), out var parsed, out _));
        Assert.True(parsed.ActionKey.IsNone);
        Assert.Null(parsed.InputDigest);
    }

    [Fact]
    public void InputHeaderMatchesGoldenBytes()
    {
        var header = new byte[KilnFrameHeader.Size];
        new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.Last, 3).Write(header);
        Assert.Equal(Hex("04 01 0000 00000003"), header);

        new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.None, 0x40000).Write(header);
        Assert.Equal(Hex("04 00 0000 00040000"), header);
        Assert.True(KilnFrameHeader.TryRead(header, KilnProtocol.MaxClientPayload, out var read, out var error), error?.Message);
        Assert.Equal(new KilnFrameHeader(KilnFrameType.Input, KilnFrameFlags.None, KilnProtocol.MaxInputChunk), read);
    }

    [Fact]
    public void ResultMatchesGoldenBytes()
    {
        var golden = Hex("05 00 0000 0000002a" + "00000001" + "00000001 6f" + "00000002 6521" + "00000002 7f45"
            + "0001" + "000c 646570656e64656e63792e64" + "00000001 78");
        var result = new KilnResult(1, "o"u8.ToArray(), "e!"u8.ToArray(), new byte[] { 0x7f, 0x45 },
            [new KilnOutputFile("dependency.d", "x"u8.ToArray())]);
        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(golden.Length, result.WriteFrame(writer));
        Assert.Equal(golden, writer.WrittenSpan.ToArray());

        Assert.True(KilnResult.TryParse(Payload(golden), out var parsed, out var error), error?.Message);
        Assert.Equal(1, parsed.ExitCode);
        Assert.Equal("o"u8.ToArray(), parsed.Stdout.ToArray());
        Assert.Equal("e!"u8.ToArray(), parsed.Stderr.ToArray());
        Assert.Equal(new byte[] { 0x7f, 0x45 }, parsed.Object.ToArray());
        var extra = Assert.Single(parsed.ExtraFiles);
        Assert.Equal("dependency.d", extra.Name);
        Assert.Equal("x"u8.ToArray(), extra.Content.ToArray());
    }

    [Fact]
    public void BusyMatchesGoldenBytes()
    {
        var golden = Hex("06 00 0000 00000006" + "0004 66756c6c");
        var busy = new KilnBusy("full");
        Assert.Equal(golden, Frame(m => busy.WriteFrame(m.Span), busy.FrameLength));
        Assert.True(KilnBusy.TryParse(Payload(golden), out var parsed, out _));
        Assert.Equal(busy, parsed);
    }

    [Fact]
    public void ErrorMatchesGoldenBytes()
    {
        var golden = Hex("07 00 0000 00000006" + "0064 0002 6e6f");
        var error = new KilnError(KilnErrorCode.CompilerNotAllowed, "no");
        Assert.Equal(golden, Frame(m => error.WriteFrame(m.Span), error.FrameLength));
        Assert.True(KilnError.TryParse(Payload(golden), out var parsed, out _));
        Assert.Equal(error, parsed);
        Assert.False(KilnProtocol.ClosesConnection(parsed.Code));
        Assert.True(KilnProtocol.ClosesConnection(KilnErrorCode.MalformedFrame));
    }

    [Fact]
    public void EveryTruncationOfAJobIsMalformedNotAnException()
    {
        var payload = Payload(Hex(s_jobHex));
        for (var length = 0; length < payload.Length; length++)
        {
            Assert.False(KilnJob.TryParse(payload[..length], out _, out var error), $"prefix of {length} bytes parsed");
            Assert.Equal(KilnErrorCode.MalformedFrame, error.Code);
        }
    }
}
