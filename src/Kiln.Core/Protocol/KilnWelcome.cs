using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// WELCOME, the server's answer to HELLO: the version both sides now speak, the server's capability
/// bits, its slots and free slots (a hint for scheduling), and its name.
/// </summary>
public sealed record KilnWelcome(ushort Version, KilnCapabilities Capabilities, ushort Slots, ushort FreeSlots, string NodeName)
{
    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength => 2 + 4 + 2 + 2 + KilnPayloadWriter.String16Size(NodeName);

    /// <summary>Size of the whole frame in bytes.</summary>
    public int FrameLength => KilnFrameHeader.Size + PayloadLength;

    /// <summary>Writes the frame (header and payload) and returns its length.</summary>
    public int WriteFrame(Span<byte> destination)
    {
        var length = PayloadLength;
        new KilnFrameHeader(KilnFrameType.Welcome, KilnFrameFlags.None, length).Write(destination);
        var w = new KilnPayloadWriter(destination.Slice(KilnFrameHeader.Size, length));
        w.U16(Version);
        w.U32((uint)Capabilities);
        w.U16(Slots);
        w.U16(FreeSlots);
        w.String16(NodeName);
        return KilnFrameHeader.Size + length;
    }

    /// <summary>Writes the frame to a buffer writer.</summary>
    public void WriteFrame(IBufferWriter<byte> writer) => writer.Advance(WriteFrame(writer.GetSpan(FrameLength)));

    /// <summary>Parses a WELCOME payload.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnWelcome? welcome, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "WELCOME");
        var version = r.U16("version");
        var capabilities = (KilnCapabilities)r.U32("capabilities");
        var slots = r.U16("slots");
        var free = r.U16("free slots");
        var name = r.String16("node name");
        r.End();
        if (r.Error is not null)
        {
            welcome = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        welcome = new KilnWelcome(version, capabilities, slots, free, name);
        error = null;
        return true;
    }
}
