using System.Buffers;
using Google.Bytestream;
using Google.Protobuf;
using Kiln.Server.Grpc;

namespace Kiln.Tests.Grpc;

public sealed class GrpcFramingTests
{
    [Fact]
    public void PrefixIsFlagThenBigEndianLength()
    {
        var prefix = new byte[5];
        GrpcFraming.WritePrefix(prefix, 0x01020304);
        Assert.Equal(new byte[] { 0x00, 0x01, 0x02, 0x03, 0x04 }, prefix);
    }

    [Fact]
    public void CompleteFrameYieldsItsBody()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c', 0xEE]);
        Assert.Equal(FrameParse.Complete, GrpcFraming.TryReadFrame(buffer, 100, out var body, out var declared));
        Assert.Equal(3, declared);
        Assert.Equal("abc"u8.ToArray(), body.ToArray());
    }

    [Fact]
    public void FrameSplitAcrossSegmentsIsRead()
    {
        var first = new Segment(new byte[] { 0, 0, 0 });
        var last = first.Append(new byte[] { 0, 2, 7 }).Append(new byte[] { 9 });
        var buffer = new ReadOnlySequence<byte>(first, 0, last, 1);
        Assert.Equal(FrameParse.Complete, GrpcFraming.TryReadFrame(buffer, 100, out var body, out _));
        Assert.Equal(new byte[] { 7, 9 }, body.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { }, -1)]
    [InlineData(new byte[] { 0, 0, 0 }, -1)]
    [InlineData(new byte[] { 0, 0, 0, 0, 4, 1, 2 }, 4)]
    public void PartialFrameNeedsMore(byte[] bytes, long declared)
    {
        Assert.Equal(FrameParse.NeedMore, GrpcFraming.TryReadFrame(new ReadOnlySequence<byte>(bytes), 100, out _, out var d));
        Assert.Equal(declared, d);
    }

    [Fact]
    public void OversizeLengthIsRefusedFromThePrefixAlone()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Equal(FrameParse.TooLarge, GrpcFraming.TryReadFrame(buffer, 1 << 20, out _, out var declared));
        Assert.Equal(uint.MaxValue, (ulong)declared);
    }

    [Fact]
    public void FlagsOtherThanZeroAreReported()
    {
        Assert.Equal(FrameParse.Compressed, GrpcFraming.TryReadFrame(new ReadOnlySequence<byte>([1, 0, 0, 0, 0]), 10, out _, out _));
        Assert.Equal(FrameParse.BadFlag, GrpcFraming.TryReadFrame(new ReadOnlySequence<byte>([7, 0, 0, 0, 0]), 10, out _, out _));
    }

    [Fact]
    public void ReadResponseGoldenBytes()
    {
        var writer = new ArrayBufferWriter<byte>();
        ReadResponseEncoding.Write(writer, "abc"u8);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 5, 0x52, 3, (byte)'a', (byte)'b', (byte)'c' }, writer.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(16383)]
    [InlineData(16384)]
    [InlineData(65536)]
    public void ReadResponseMatchesProtobufEncoding(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var writer = new ArrayBufferWriter<byte>();
        ReadResponseEncoding.Write(writer, data);
        var expected = new ReadResponse { Data = ByteString.CopyFrom(data) }.ToByteArray();
        Assert.Equal(GrpcTestClient.Frame(expected), writer.WrittenSpan.ToArray());
        Assert.Equal(expected.Length, ReadResponseEncoding.MessageLength(length));
    }

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("50% done\n", "50%25 done%0A")]
    [InlineData("é", "%C3%A9")]
    public void GrpcMessageIsPercentEncoded(string message, string encoded)
    {
        Assert.Equal(encoded, GrpcStatus.PercentEncode(message));
        Assert.Equal(message, GrpcStatus.PercentDecode(encoded));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
