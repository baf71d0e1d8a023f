using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// The fixed 8-byte header of every frame: type (1 byte), flags (1 byte), reserved (2 bytes, zero in
/// version 1), payload length (4 bytes, big-endian).
/// </summary>
public readonly record struct KilnFrameHeader(KilnFrameType Type, KilnFrameFlags Flags, int Length)
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = 8;

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)Type;
        destination[1] = (byte)Flags;
        destination[2] = 0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)Length);
    }

    /// <summary>
    /// Reads and checks a header: a known type, flags and reserved bytes valid for it, and a length
    /// within <paramref name="maxLength"/> for that type. On failure <paramref name="error"/> says why.
    /// </summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <param name="maxLength">The largest payload the receiver accepts for a frame type; -1 when it never receives that type.</param>
    /// <param name="header">The header read.</param>
    /// <param name="error">Why the header is refused.</param>
    public static bool TryRead(ReadOnlySpan<byte> source, Func<KilnFrameType, int> maxLength, out KilnFrameHeader header, [NotNullWhen(false)] out KilnError? error)
    {
        var type = (KilnFrameType)source[0];
        var flags = (KilnFrameFlags)source[1];
        var length = BinaryPrimitives.ReadUInt32BigEndian(source[4..]);
        header = new KilnFrameHeader(type, flags, (int)Math.Min(length, int.MaxValue));
        if (type is < KilnFrameType.Hello or > KilnFrameType.Sync)
        {
            error = new KilnError(KilnErrorCode.UnknownFrameType, $"unknown frame type 0x{source[0]:x2}; is the peer speaking the Kiln protocol (port 3635)?");
            return false;
        }

        if (source[2] != 0 || source[3] != 0)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, $"{Name(type)} frame has reserved header bytes set (0x{source[2]:x2}{source[3]:x2})");
            return false;
        }

        var allowedFlags = type switch
        {
            KilnFrameType.Input => KilnFrameFlags.Last | KilnFrameFlags.Abandon,
            KilnFrameType.Job => KilnFrameFlags.Ahead,
            KilnFrameType.Result => KilnFrameFlags.FromCache,
            KilnFrameType.Lookup or KilnFrameType.Manifest => KilnFrameFlags.WithResult,
            _ => KilnFrameFlags.None,
        };
        if ((flags & ~allowedFlags) != 0)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, $"{Name(type)} frame has unknown flags 0x{source[1]:x2}");
            return false;
        }

        if ((flags & (KilnFrameFlags.Abandon | KilnFrameFlags.Last)) == KilnFrameFlags.Abandon)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, "INPUT frame flagged ABANDON without LAST");
            return false;
        }

        var max = maxLength(type);
        if (max < 0)
        {
            error = new KilnError(KilnErrorCode.UnexpectedFrame, $"{Name(type)} frame is never sent in this direction");
            return false;
        }

        if (length > (uint)max)
        {
            error = new KilnError(KilnErrorCode.FrameTooLarge, $"{Name(type)} frame announces {length} bytes; the limit is {max}");
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>The frame type's name as the documentation writes it (HELLO, JOB…).</summary>
    public static string Name(KilnFrameType type) => type switch
    {
        KilnFrameType.Hello => "HELLO",
        KilnFrameType.Welcome => "WELCOME",
        KilnFrameType.Job => "JOB",
        KilnFrameType.Input => "INPUT",
        KilnFrameType.Result => "RESULT",
        KilnFrameType.Busy => "BUSY",
        KilnFrameType.Error => "ERROR",
        KilnFrameType.Lookup => "LOOKUP",
        KilnFrameType.Manifest => "MANIFEST",
        KilnFrameType.Fetch => "FETCH",
        KilnFrameType.Record => "RECORD",
        KilnFrameType.Preprocess => "PREPROCESS",
        KilnFrameType.Sync => "SYNC",
        _ => $"0x{(byte)type:x2}",
    };
}
