using System.Buffers;

namespace Kiln.Server.Grpc;

/// <summary>
/// The wire form of a <c>google.bytestream.ReadResponse</c> frame written without building the
/// message: gRPC prefix, then tag 0x52 (field 10, length-delimited), a varint length and the data.
/// </summary>
public static class ReadResponseEncoding
{
    /// <summary>Field 10, wire type 2.</summary>
    private const byte DataTag = (10 << 3) | 2;

    /// <summary>The message length (without the gRPC prefix) for <paramref name="dataLength"/> bytes of data.</summary>
    public static int MessageLength(int dataLength) =>
        dataLength == 0 ? 0 : 1 + VarintLength((uint)dataLength) + dataLength;

    /// <summary>Writes one framed ReadResponse. Empty data is the empty message, as protobuf encodes it.</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> data)
    {
        var length = MessageLength(data.Length);
        var head = writer.GetSpan(GrpcFraming.PrefixLength + 6);
        GrpcFraming.WritePrefix(head, length);
        var n = GrpcFraming.PrefixLength;
        if (data.Length > 0)
        {
            head[n++] = DataTag;
            var v = (uint)data.Length;
            while (v >= 0x80)
            {
                head[n++] = (byte)(v | 0x80);
                v >>= 7;
            }

            head[n++] = (byte)v;
        }

        writer.Advance(n);
        writer.Write(data);
    }

    private static int VarintLength(uint value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }
}
