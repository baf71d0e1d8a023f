using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Protocol;

/// <summary>
/// RESULT: what the compiler produced, exactly: exit code, stdout, stderr, the object file (empty
/// when none) and extra output files by name. The connection stays usable after it.
/// </summary>
public sealed record KilnResult(int ExitCode, ReadOnlyMemory<byte> Stdout, ReadOnlyMemory<byte> Stderr, ReadOnlyMemory<byte> Object, IReadOnlyList<KilnOutputFile> ExtraFiles)
{
    /// <summary>Size of the payload in bytes.</summary>
    public long PayloadLength
    {
        get
        {
            long length = 4 + 4 + Stdout.Length + 4 + Stderr.Length + 4 + Object.Length + 2;
            foreach (var f in ExtraFiles)
            {
                length += KilnPayloadWriter.String16Size(f.Name) + 4 + f.Content.Length;
            }

            return length;
        }
    }

    /// <summary>
    /// Writes the frame piece by piece (a large object file is copied once, into the writer) and
    /// returns its length. The caller checks <see cref="PayloadLength"/> against <see cref="KilnProtocol.MaxFrameLength"/> first.
    /// </summary>
    public long WriteFrame(IBufferWriter<byte> writer) => WriteFrame(writer, KilnFrameFlags.None);

    /// <summary>As <see cref="WriteFrame(IBufferWriter{byte})"/>, with header flags (<see cref="KilnFrameFlags.FromCache"/>).</summary>
    public long WriteFrame(IBufferWriter<byte> writer, KilnFrameFlags flags)
    {
        var length = PayloadLength;
        if (length > KilnProtocol.MaxFrameLength)
        {
            throw new InvalidOperationException($"RESULT of {length} bytes exceeds the frame limit; check PayloadLength first");
        }

        var head = writer.GetSpan(KilnFrameHeader.Size + 8);
        new KilnFrameHeader(KilnFrameType.Result, flags, (int)length).Write(head);
        BinaryPrimitives.WriteInt32BigEndian(head[KilnFrameHeader.Size..], ExitCode);
        writer.Advance(KilnFrameHeader.Size + 4);
        WriteBlob(writer, Stdout.Span);
        WriteBlob(writer, Stderr.Span);
        WriteBlob(writer, Object.Span);
        BinaryPrimitives.WriteUInt16BigEndian(writer.GetSpan(2), (ushort)ExtraFiles.Count);
        writer.Advance(2);
        foreach (var f in ExtraFiles)
        {
            var nameSpan = writer.GetSpan(KilnPayloadWriter.String16Size(f.Name));
            var w = new KilnPayloadWriter(nameSpan);
            w.String16(f.Name);
            writer.Advance(w.Position);
            WriteBlob(writer, f.Content.Span);
        }

        return KilnFrameHeader.Size + length;
    }

    private static void WriteBlob(IBufferWriter<byte> writer, ReadOnlySpan<byte> blob)
    {
        BinaryPrimitives.WriteUInt32BigEndian(writer.GetSpan(4), (uint)blob.Length);
        writer.Advance(4);
        writer.Write(blob);
    }

    /// <summary>Parses a RESULT payload. The blobs are slices of <paramref name="payload"/>, not copies.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnResult? result, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "RESULT");
        var exitCode = r.I32("exit code");
        var stdout = r.Blob32("stdout");
        var stderr = r.Blob32("stderr");
        var obj = r.Blob32("object");
        var count = r.U16("extra file count");
        var extras = count == 0 ? (IReadOnlyList<KilnOutputFile>)[] : new List<KilnOutputFile>(Math.Min((int)count, r.Remaining / 6));
        for (var i = 0; i < count && r.Error is null; i++)
        {
            var name = r.String16("extra file name");
            var content = r.Blob32("extra file content");
            if (r.Error is null && !KilnOutputFile.IsPlainName(name))
            {
                r.Fail($"extra file name '{name}' is not a plain file name");
            }

            ((List<KilnOutputFile>)extras).Add(new KilnOutputFile(name, content));
        }

        r.End();
        if (r.Error is not null)
        {
            result = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        result = new KilnResult(exitCode, stdout, stderr, obj, extras);
        error = null;
        return true;
    }
}
