using System.Buffers;
using System.Buffers.Binary;

namespace Kiln.Server.Grpc;

/// <summary>
/// gRPC's length-prefixed message framing inside an HTTP/2 stream: one byte compressed flag (0 or
/// 1), a 4-byte big-endian length, then the message. A message body never crosses into the next.
/// </summary>
public static class GrpcFraming
{
    /// <summary>Length of the prefix before each message.</summary>
    public const int PrefixLength = 5;

    /// <summary>
    /// Looks for one whole frame at the start of <paramref name="buffer"/>. The length is checked
    /// against <paramref name="maxMessageSize"/> from the prefix alone, before any body is buffered.
    /// </summary>
    /// <param name="buffer">The bytes received so far.</param>
    /// <param name="maxMessageSize">The largest message accepted.</param>
    /// <param name="message">On <see cref="FrameParse.Complete"/>, the message bytes.</param>
    /// <param name="declaredLength">The length the prefix declares, once the prefix is there (else -1).</param>
    public static FrameParse TryReadFrame(in ReadOnlySequence<byte> buffer, int maxMessageSize, out ReadOnlySequence<byte> message, out long declaredLength)
    {
        message = default;
        declaredLength = -1;
        if (buffer.Length < PrefixLength)
        {
            return FrameParse.NeedMore;
        }

        Span<byte> prefix = stackalloc byte[PrefixLength];
        buffer.Slice(0, PrefixLength).CopyTo(prefix);
        declaredLength = BinaryPrimitives.ReadUInt32BigEndian(prefix[1..]);
        if (prefix[0] > 1)
        {
            return FrameParse.BadFlag;
        }

        if (declaredLength > maxMessageSize)
        {
            return FrameParse.TooLarge;
        }

        if (prefix[0] == 1)
        {
            return FrameParse.Compressed;
        }

        if (buffer.Length - PrefixLength < declaredLength)
        {
            return FrameParse.NeedMore;
        }

        message = buffer.Slice(PrefixLength, declaredLength);
        return FrameParse.Complete;
    }

    /// <summary>Writes an uncompressed message prefix for a body of <paramref name="length"/> bytes.</summary>
    public static void WritePrefix(Span<byte> destination, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
    }
}
