using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// WELCOME, the server's answer to HELLO: the version both sides now speak, the server's capability
/// bits, its slots and free slots (a hint for scheduling), its name, and optionally its attributes:
/// the same <c>key=value</c> words as its <c>_kiln._tcp</c> TXT record (<c>compilers=</c>, <c>targets=</c>,
/// operator tags), so a client that was given the node by address can still match jobs to its
/// compilers. The attribute list is a trailing field (a count and strings) that is absent when empty,
/// so a WELCOME without attributes is byte for byte the version 1 frame.
/// </summary>
public sealed record KilnWelcome(ushort Version, KilnCapabilities Capabilities, ushort Slots, ushort FreeSlots, string NodeName)
{
    /// <summary>The most attributes a WELCOME carries.</summary>
    public const int MaxAttributes = 64;

    /// <summary>The node's <c>key=value</c> attributes (empty: none sent).</summary>
    public IReadOnlyList<string> Attributes { get; init; } = [];

    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength => 2 + 4 + 2 + 2 + KilnPayloadWriter.String16Size(NodeName) + AttributesLength;

    private int AttributesLength
    {
        get
        {
            if (Attributes.Count == 0)
            {
                return 0;
            }

            var length = 2;
            foreach (var a in Attributes)
            {
                length += KilnPayloadWriter.String16Size(a);
            }

            return length;
        }
    }

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
        if (Attributes.Count > 0)
        {
            w.U16((ushort)Attributes.Count);
            foreach (var a in Attributes)
            {
                w.String16(a);
            }
        }

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
        var attributes = new List<string>();
        if (r.Error is null && r.Remaining > 0)
        {
            var count = r.U16("attribute count");
            if (count > MaxAttributes)
            {
                r.Fail($"{count} attributes; at most {MaxAttributes}");
            }

            for (var i = 0; i < count && r.Error is null; i++)
            {
                attributes.Add(r.String16("attribute"));
            }
        }

        r.End();
        if (r.Error is not null)
        {
            welcome = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        welcome = new KilnWelcome(version, capabilities, slots, free, name) { Attributes = attributes.Count == 0 ? Array.Empty<string>() : (IReadOnlyList<string>)attributes };
        error = null;
        return true;
    }
}
