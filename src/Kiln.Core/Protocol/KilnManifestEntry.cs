using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Core.Protocol;

/// <summary>
/// One remote direct-mode entry (docs/protocol.md, LOOKUP): the files a compile's preprocessor read,
/// each with its digest then; the ActionKey the writer's client computed (<see cref="ClientKey"/>, for
/// its local cache) and the key the node stored the result under (<see cref="NodeKey"/>, for FETCH;
/// all zero in RECORD, where the node fills in its own); and the dependency file the preprocessor
/// wrote, or null when the compile wrote none.
/// </summary>
public sealed record KilnManifestEntry(ActionKey ClientKey, ActionKey NodeKey, IReadOnlyList<IncludedFile> Files, ReadOnlyMemory<byte>? DependencyFile)
{
    /// <summary>The most files one entry can name: the encoding counts them in 16 bits.</summary>
    public const int MaxFiles = ushort.MaxValue;

    /// <summary>Bytes of the entry's encoding.</summary>
    public int EncodedLength
    {
        get
        {
            var length = (2 * ActionKey.Length) + 2 + 1 + KilnPayloadWriter.Blob32Size(DependencyFile?.Length ?? 0);
            foreach (var file in Files)
            {
                length += KilnPayloadWriter.String16Size(file.Path) + Digest.HashLength + 8;
            }

            return length;
        }
    }

    internal void Write(ref KilnPayloadWriter w)
    {
        ClientKey.WriteTo(w.Reserve(ActionKey.Length));
        NodeKey.WriteTo(w.Reserve(ActionKey.Length));
        w.U16(checked((ushort)Files.Count));
        foreach (var file in Files)
        {
            w.String16(file.Path);
            file.Digest.WriteHash(w.Reserve(Digest.HashLength));
            w.U64((ulong)file.Digest.Size);
        }

        w.U8(DependencyFile is null ? (byte)0 : (byte)1);
        w.Blob32(DependencyFile is { } dependency ? dependency.Span : default);
    }

    internal static KilnManifestEntry? Read(ref KilnPayloadReader r)
    {
        var clientKey = ReadKey(ref r, "client key");
        var nodeKey = ReadKey(ref r, "node key");
        var count = r.U16("file count");
        var files = new List<IncludedFile>(Math.Min((int)count, 1024));
        for (var i = 0; i < count && r.Error is null; i++)
        {
            var path = r.String16("path");
            var hash = r.Bytes(Digest.HashLength, "file SHA-256");
            var size = r.U64("file size");
            if (r.Error is not null)
            {
                return null;
            }

            if (path.Length == 0 || size > long.MaxValue)
            {
                r.Fail($"file {i} has an empty path or an impossible size");
                return null;
            }

            files.Add(new IncludedFile(path, Digest.FromHash(hash, (long)size)));
        }

        var hasDependency = r.U8("has dependency file");
        var dependency = r.Blob32("dependency file");
        if (r.Error is not null)
        {
            return null;
        }

        if (hasDependency > 1 || (hasDependency == 0 && !dependency.IsEmpty))
        {
            r.Fail("'has dependency file' must be 0 (and the file empty) or 1");
            return null;
        }

        // Not a conditional expression: its null would convert through byte[] to a present, empty file.
        ReadOnlyMemory<byte>? file = null;
        if (hasDependency == 1)
        {
            file = dependency.ToArray();
        }

        return new KilnManifestEntry(clientKey, nodeKey, files, file);
    }

    private static ActionKey ReadKey(ref KilnPayloadReader r, string field)
    {
        var bytes = r.Bytes(ActionKey.Length, field);
        return r.Error is null ? ActionKey.FromBytes(bytes) : ActionKey.None;
    }
}
