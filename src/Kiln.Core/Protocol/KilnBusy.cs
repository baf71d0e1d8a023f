using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>BUSY: the node has no slot for the job now; the client tries another node. The connection stays usable.</summary>
public sealed record KilnBusy(string Reason)
{
    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength => KilnPayloadWriter.String16Size(Reason);

    /// <summary>Size of the whole frame in bytes.</summary>
    public int FrameLength => KilnFrameHeader.Size + PayloadLength;

    /// <summary>Writes the frame (header and payload) and returns its length.</summary>
    public int WriteFrame(Span<byte> destination)
    {
        var length = PayloadLength;
        new KilnFrameHeader(KilnFrameType.Busy, KilnFrameFlags.None, length).Write(destination);
        var w = new KilnPayloadWriter(destination.Slice(KilnFrameHeader.Size, length));
        w.String16(Reason);
        return KilnFrameHeader.Size + length;
    }

    /// <summary>Writes the frame to a buffer writer.</summary>
    public void WriteFrame(IBufferWriter<byte> writer) => writer.Advance(WriteFrame(writer.GetSpan(FrameLength)));

    /// <summary>Parses a BUSY payload.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnBusy? busy, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "BUSY");
        var reason = r.String16("reason");
        r.End();
        if (r.Error is not null)
        {
            busy = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        busy = new KilnBusy(reason);
        error = null;
        return true;
    }
}
