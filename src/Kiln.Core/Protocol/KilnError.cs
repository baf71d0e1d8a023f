using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// ERROR: a numeric code and a message a person can act on. Codes below 100 end the connection;
/// codes from 100 end only the job (see <see cref="KilnProtocol.ClosesConnection"/>).
/// </summary>
public sealed record KilnError(KilnErrorCode Code, string Message)
{
    /// <summary>Longest message sent, in characters; longer ones are cut so the frame stays small.</summary>
    public const int MaxMessageLength = 4000;

    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength => 2 + KilnPayloadWriter.String16Size(SentMessage);

    /// <summary>Size of the whole frame in bytes.</summary>
    public int FrameLength => KilnFrameHeader.Size + PayloadLength;

    private string SentMessage => Message.Length <= MaxMessageLength ? Message : Message[..MaxMessageLength];

    /// <summary>Writes the frame (header and payload) and returns its length.</summary>
    public int WriteFrame(Span<byte> destination)
    {
        var length = PayloadLength;
        new KilnFrameHeader(KilnFrameType.Error, KilnFrameFlags.None, length).Write(destination);
        var w = new KilnPayloadWriter(destination.Slice(KilnFrameHeader.Size, length));
        w.U16((ushort)Code);
        w.String16(SentMessage);
        return KilnFrameHeader.Size + length;
    }

    /// <summary>Writes the frame to a buffer writer.</summary>
    public void WriteFrame(IBufferWriter<byte> writer) => writer.Advance(WriteFrame(writer.GetSpan(FrameLength)));

    /// <summary>Parses an ERROR payload. Unknown codes are kept: a newer server may send codes this client does not name.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnError? value, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "ERROR");
        var code = (KilnErrorCode)r.U16("code");
        var message = r.String16("message");
        r.End();
        if (r.Error is not null)
        {
            value = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        value = new KilnError(code, message);
        error = null;
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Message} (Kiln error {(ushort)Code} {Code})";
}
