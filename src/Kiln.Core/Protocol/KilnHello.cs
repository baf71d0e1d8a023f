using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// HELLO, the client's first frame: magic "KILN", the range of versions it speaks, its capability
/// bits, its identity token (empty when none) and a name for logs.
/// </summary>
public sealed record KilnHello(ushort MinVersion, ushort MaxVersion, KilnCapabilities Capabilities, string Token, string ClientName)
{
    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength =>
        4 + 2 + 2 + 4 + KilnPayloadWriter.String16Size(Token) + KilnPayloadWriter.String16Size(ClientName);

    /// <summary>Size of the whole frame in bytes.</summary>
    public int FrameLength => KilnFrameHeader.Size + PayloadLength;

    /// <summary>Writes the frame (header and payload) and returns its length.</summary>
    public int WriteFrame(Span<byte> destination)
    {
        var length = PayloadLength;
        new KilnFrameHeader(KilnFrameType.Hello, KilnFrameFlags.None, length).Write(destination);
        var w = new KilnPayloadWriter(destination.Slice(KilnFrameHeader.Size, length));
        w.Bytes(KilnProtocol.Magic);
        w.U16(MinVersion);
        w.U16(MaxVersion);
        w.U32((uint)Capabilities);
        w.String16(Token);
        w.String16(ClientName);
        return KilnFrameHeader.Size + length;
    }

    /// <summary>Writes the frame to a buffer writer.</summary>
    public void WriteFrame(IBufferWriter<byte> writer) => writer.Advance(WriteFrame(writer.GetSpan(FrameLength)));

    /// <summary>Parses a HELLO payload; a wrong magic gives <see cref="KilnErrorCode.BadMagic"/>.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnHello? hello, [NotNullWhen(false)] out KilnError? error)
    {
        hello = null;
        if (payload.Length < 4 || !payload.Span[..4].SequenceEqual(KilnProtocol.Magic))
        {
            error = new KilnError(KilnErrorCode.BadMagic, "HELLO does not start with \"KILN\": the peer does not speak the Kiln protocol");
            return false;
        }

        var r = new KilnPayloadReader(payload[4..], "HELLO");
        var min = r.U16("min version");
        var max = r.U16("max version");
        var capabilities = (KilnCapabilities)r.U32("capabilities");
        var token = r.String16("token");
        var name = r.String16("client name");
        r.End();
        if (r.Error is null && (min == 0 || min > max))
        {
            r.Fail($"version range {min}..{max} is empty or starts at 0");
        }

        if (r.Error is not null)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        hello = new KilnHello(min, max, capabilities, token, name);
        error = null;
        return true;
    }

    /// <inheritdoc/>
    // The token is a secret: logs and test failures never show it.
    public override string ToString() => $"HELLO v{MinVersion}..{MaxVersion} caps={Capabilities} client={ClientName} token={(Token.Length == 0 ? "none" : "set")}";
}
