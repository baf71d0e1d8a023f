using System.Buffers;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;

namespace Kiln.Tests.Protocol;

/// <summary>Frames encode and decode to the same values, and invalid frames are refused with a reason.</summary>
public sealed class KilnFrameRoundTripTests
{
    private static string RandomText(Random random, int maxLength)
    {
        // ASCII, Latin, CJK and an astral character: every UTF-8 width.
        string[] pieces = ["a", "-O2", "é", "ß", "漢", "😀", "=", " ", "\"", "/"];
        var length = random.Next(maxLength + 1);
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < length; i++)
        {
            text.Append(pieces[random.Next(pieces.Length)]);
        }

        return text.ToString();
    }

    [Fact]
    public void RandomJobsRoundTrip()
    {
        var random = new Random(3635);
        for (var n = 0; n < 200; n++)
        {
            var key = new byte[32];
            random.NextBytes(key);
            var input = new byte[random.Next(0, 5000)];
            random.NextBytes(input);
            var arguments = new List<string>();
            for (var i = random.Next(0, 20); i > 0; i--)
            {
                arguments.Add(RandomText(random, 30));
            }

            var job = new KilnJob
            {
                ActionKey = ActionKey.FromBytes(key),
                InputDigest = n % 3 == 0 ? null : Digest.FromBytes(input),
                InputSize = input.Length,
                Language = (SourceLanguage)random.Next(0, 7),
                Compiler = RandomText(random, 10),
                Arguments = arguments,
                SourceName = RandomText(random, 40),
                WorkingDirectory = RandomText(random, 60),
                Locale = n % 2 == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { ["LC_ALL"] = "C.UTF-8", ["LANG"] = RandomText(random, 8) },
            };
            var frame = new byte[job.FrameLength];
            Assert.Equal(frame.Length, job.WriteFrame(frame));
            Assert.True(KilnFrameHeader.TryRead(frame, KilnProtocol.MaxClientPayload, out var header, out var headerError), headerError?.Message);
            Assert.Equal(KilnFrameType.Job, header.Type);
            Assert.Equal(frame.Length - KilnFrameHeader.Size, header.Length);
            Assert.True(KilnJob.TryParse(frame.AsMemory(KilnFrameHeader.Size), out var parsed, out var error), error?.Message);
            Assert.Equal(job.ActionKey, parsed.ActionKey);
            Assert.Equal(job.InputDigest, parsed.InputDigest);
            Assert.Equal(job.InputSize, parsed.InputSize);
            Assert.Equal(job.Language, parsed.Language);
            Assert.Equal(job.Compiler, parsed.Compiler);
            Assert.Equal(job.Arguments, parsed.Arguments);
            Assert.Equal(job.SourceName, parsed.SourceName);
            Assert.Equal(job.WorkingDirectory, parsed.WorkingDirectory);
            Assert.Equal(job.Locale.OrderBy(p => p.Key), parsed.Locale.OrderBy(p => p.Key));
        }
    }

    [Fact]
    public void LargeResultRoundTripsWithoutCopyingBlobs()
    {
        var random = new Random(42);
        var obj = new byte[3 << 20];
        random.NextBytes(obj);
        var result = new KilnResult(0, ReadOnlyMemory<byte>.Empty, "warning: x\n"u8.ToArray(), obj, []);
        var writer = new ArrayBufferWriter<byte>();
        result.WriteFrame(writer);
        var frame = writer.WrittenMemory;
        Assert.True(KilnResult.TryParse(frame[KilnFrameHeader.Size..], out var parsed, out var error), error?.Message);
        Assert.True(obj.AsSpan().SequenceEqual(parsed.Object.Span));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(parsed.Object, out var segment));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(frame, out var whole));
        Assert.Same(whole.Array, segment.Array);
    }

    [Theory]
    [InlineData("7f 00 0000 00000000", KilnErrorCode.UnknownFrameType)]
    [InlineData("00 00 0000 00000000", KilnErrorCode.UnknownFrameType)]
    [InlineData("03 00 0001 00000000", KilnErrorCode.MalformedFrame)]
    [InlineData("03 01 0000 00000000", KilnErrorCode.MalformedFrame)]
    [InlineData("04 02 0000 00000000", KilnErrorCode.MalformedFrame)]
    [InlineData("04 00 0000 00040001", KilnErrorCode.FrameTooLarge)]
    [InlineData("03 00 0000 00080001", KilnErrorCode.FrameTooLarge)]
    [InlineData("01 00 0000 ffffffff", KilnErrorCode.FrameTooLarge)]
    [InlineData("05 00 0000 00000010", KilnErrorCode.UnexpectedFrame)]
    public void ServerRefusesBadHeaders(string hex, KilnErrorCode expected)
    {
        var bytes = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.False(KilnFrameHeader.TryRead(bytes, KilnProtocol.MaxClientPayload, out _, out var error));
        Assert.Equal(expected, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void HelloWithWrongMagicIsBadMagic()
    {
        var hello = new KilnHello(1, 1, 0, "", "x");
        var frame = new byte[hello.FrameLength];
        hello.WriteFrame(frame);
        frame[KilnFrameHeader.Size] = (byte)'X';
        Assert.False(KilnHello.TryParse(frame.AsMemory(KilnFrameHeader.Size), out _, out var error));
        Assert.Equal(KilnErrorCode.BadMagic, error.Code);
    }

    [Fact]
    public void HelloWithEmptyVersionRangeIsMalformed()
    {
        var hello = new KilnHello(3, 2, 0, "", "x");
        var frame = new byte[hello.FrameLength];
        hello.WriteFrame(frame);
        Assert.False(KilnHello.TryParse(frame.AsMemory(KilnFrameHeader.Size), out _, out var error));
        Assert.Equal(KilnErrorCode.MalformedFrame, error.Code);
    }

    [Fact]
    public void StringsMustBeUtf8WithoutNul()
    {
        // BUSY payload: 2-byte length then text.
        Assert.False(KilnBusy.TryParse(new byte[] { 0, 2, 0xc3, 0x28 }, out _, out var invalid));
        Assert.Contains("UTF-8", invalid.Message, StringComparison.Ordinal);
        Assert.False(KilnBusy.TryParse(new byte[] { 0, 2, (byte)'a', 0 }, out _, out var nul));
        Assert.Contains("NUL", nul.Message, StringComparison.Ordinal);
        Assert.False(KilnBusy.TryParse(new byte[] { 0, 1, (byte)'a', (byte)'b' }, out _, out var trailing));
        Assert.Contains("after the last field", trailing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResultExtraFileNamesMustBePlain()
    {
        var result = new KilnResult(0, default, default, default, [new KilnOutputFile("../evil", "x"u8.ToArray())]);
        var writer = new ArrayBufferWriter<byte>();
        result.WriteFrame(writer);
        Assert.False(KilnResult.TryParse(writer.WrittenMemory[KilnFrameHeader.Size..], out _, out var error));
        Assert.Contains("../evil", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResultBlobLongerThanTheFrameIsMalformed()
    {
        // exit code, then a stdout blob announcing 1000 bytes with 2 present.
        var payload = Convert.FromHexString("00000000" + "000003e8" + "6162");
        Assert.False(KilnResult.TryParse(payload, out _, out var error));
        Assert.Contains("1000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JobWithUnknownLanguageByteIsMalformed()
    {
        var job = new KilnJob { InputSize = 0, Language = SourceLanguage.C, Compiler = "gcc", Arguments = [] };
        var frame = new byte[job.FrameLength];
        job.WriteFrame(frame);
        frame[KilnFrameHeader.Size + 72] = 9;
        Assert.False(KilnJob.TryParse(frame.AsMemory(KilnFrameHeader.Size), out _, out var error));
        Assert.Contains("language 9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JobValidationNamesWhatDoesNotFit()
    {
        var tooMany = new KilnJob { InputSize = 0, Language = SourceLanguage.C, Compiler = "gcc", Arguments = Enumerable.Repeat("-O2", 70000).ToArray() };
        Assert.Contains("70000 arguments", tooMany.Validate(), StringComparison.Ordinal);
        var tooLong = new KilnJob { InputSize = 0, Language = SourceLanguage.C, Compiler = "gcc", Arguments = ["-D" + new string('x', 70000)] };
        Assert.NotNull(tooLong.Validate());
        var wrongDigest = new KilnJob { InputSize = 5, InputDigest = Digest.Empty, Language = SourceLanguage.C, Compiler = "gcc", Arguments = [] };
        Assert.Contains("digest", wrongDigest.Validate(), StringComparison.Ordinal);
    }
}
