using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Kiln.Core.Hashing;

namespace Kiln.Core.Protocol;

/// <summary>
/// The remote direct-mode frames (docs/protocol.md): LOOKUP names a manifest key, MANIFEST answers
/// with the entries this client's identity recorded under it (none on a miss), FETCH asks for a
/// stored result by the node's key, and RECORD adds an entry for the job the connection just ran.
/// The MANIFEST payload is also how a node stores a manifest: a count and the entries, newest first.
/// </summary>
public static class KilnManifest
{
    /// <summary>The most entries one manifest keeps (ccache keeps a similar handful per manifest).</summary>
    public const int MaxEntries = 16;

    /// <summary>The largest MANIFEST payload a client accepts, and a node stores: 4 MiB.</summary>
    public const int MaxManifestLength = 4 << 20;

    /// <summary>Writes a LOOKUP (<paramref name="type"/> = Lookup) or FETCH (Fetch) frame: a header and one 32-byte key.</summary>
    public static byte[] KeyFrame(KilnFrameType type, ActionKey key, KilnFrameFlags flags = KilnFrameFlags.None)
    {
        if (type is not (KilnFrameType.Lookup or KilnFrameType.Fetch))
        {
            throw new ArgumentException("only LOOKUP and FETCH carry a bare key", nameof(type));
        }

        var frame = new byte[KilnFrameHeader.Size + ActionKey.Length];
        new KilnFrameHeader(type, flags, ActionKey.Length).Write(frame);
        key.WriteTo(frame.AsSpan(KilnFrameHeader.Size));
        return frame;
    }

    /// <summary>Parses the payload of LOOKUP or FETCH: exactly one key, which must not be all zero.</summary>
    public static bool TryParseKey(ReadOnlyMemory<byte> payload, string frameName, out ActionKey key, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, frameName);
        var bytes = r.Bytes(ActionKey.Length, "key");
        key = r.Error is null ? ActionKey.FromBytes(bytes) : ActionKey.None;
        r.End();
        if (r.Error is null && key.IsNone)
        {
            r.Fail("the key is all zero");
        }

        error = r.Error is null ? null : new KilnError(KilnErrorCode.MalformedFrame, r.Error);
        return error is null;
    }

    /// <summary>The MANIFEST payload (also the stored form) of <paramref name="entries"/>.</summary>
    public static byte[] Encode(IReadOnlyList<KilnManifestEntry> entries)
    {
        var length = 2;
        foreach (var entry in entries)
        {
            length += entry.EncodedLength;
        }

        var payload = new byte[length];
        var w = new KilnPayloadWriter(payload);
        w.U16(checked((ushort)entries.Count));
        foreach (var entry in entries)
        {
            entry.Write(ref w);
        }

        return payload;
    }

    /// <summary>Writes a MANIFEST frame whose payload is <paramref name="payload"/> (from <see cref="Encode"/>).</summary>
    public static void WriteManifestFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload, KilnFrameFlags flags = KilnFrameFlags.None)
    {
        var span = writer.GetSpan(KilnFrameHeader.Size + payload.Length);
        new KilnFrameHeader(KilnFrameType.Manifest, flags, payload.Length).Write(span);
        payload.CopyTo(span[KilnFrameHeader.Size..]);
        writer.Advance(KilnFrameHeader.Size + payload.Length);
    }

    /// <summary>Parses a MANIFEST payload (or a stored manifest).</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out List<KilnManifestEntry>? entries, [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "MANIFEST");
        var count = r.U16("entry count");
        if (r.Error is null && count > MaxEntries)
        {
            r.Fail($"{count} entries; a manifest has at most {MaxEntries}");
        }

        var list = new List<KilnManifestEntry>(Math.Min((int)count, MaxEntries));
        for (var i = 0; i < count && r.Error is null; i++)
        {
            if (KilnManifestEntry.Read(ref r) is { } entry)
            {
                list.Add(entry);
            }
        }

        r.End();
        if (r.Error is not null)
        {
            entries = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        entries = list;
        error = null;
        return true;
    }

    /// <summary>A RECORD frame: the manifest key and one entry (its node key all zero).</summary>
    public static byte[] RecordFrame(ActionKey manifestKey, KilnManifestEntry entry)
    {
        var length = ActionKey.Length + entry.EncodedLength;
        var frame = new byte[KilnFrameHeader.Size + length];
        new KilnFrameHeader(KilnFrameType.Record, KilnFrameFlags.None, length).Write(frame);
        var w = new KilnPayloadWriter(frame.AsSpan(KilnFrameHeader.Size));
        manifestKey.WriteTo(w.Reserve(ActionKey.Length));
        (entry with { NodeKey = ActionKey.None }).Write(ref w);
        return frame;
    }

    /// <summary>Parses a RECORD payload: a manifest key that is not all zero, and one entry whose node key is all zero.</summary>
    public static bool TryParseRecord(ReadOnlyMemory<byte> payload, out ActionKey manifestKey, [NotNullWhen(true)] out KilnManifestEntry? entry,
        [NotNullWhen(false)] out KilnError? error)
    {
        var r = new KilnPayloadReader(payload, "RECORD");
        var bytes = r.Bytes(ActionKey.Length, "manifest key");
        manifestKey = r.Error is null ? ActionKey.FromBytes(bytes) : ActionKey.None;
        entry = r.Error is null ? KilnManifestEntry.Read(ref r) : null;
        r.End();
        if (r.Error is null && (manifestKey.IsNone || entry!.ClientKey.IsNone || !entry.NodeKey.IsNone))
        {
            r.Fail("the manifest key and the client key must be set and the node key all zero");
        }

        if (r.Error is not null || entry is null)
        {
            entry = null;
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error ?? "RECORD: no entry");
            return false;
        }

        error = null;
        return true;
    }
}
