using System.Text;

namespace Kiln.Tests.Cache;

/// <summary>A minimal protobuf wire-format writer for building test messages byte by byte.</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _bytes = new();

    public ProtoWriter Varint(int field, ulong value) => Tag(field, 0).Raw(value);

    public ProtoWriter Bytes(int field, byte[] payload)
    {
        Tag(field, 2).Raw((ulong)payload.Length);
        _bytes.Write(payload);
        return this;
    }

    public ProtoWriter String(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    public ProtoWriter Tag(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

    public ProtoWriter Raw(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        _bytes.WriteByte((byte)value);
        return this;
    }

    public ProtoWriter RawBytes(params byte[] bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>A REAPI Digest message: hash = 1, size_bytes = 2.</summary>
    public static ProtoWriter Digest(Kiln.Core.Hashing.Digest digest)
    {
        var writer = new ProtoWriter().String(1, digest.Hex);
        return digest.Size == 0 ? writer : writer.Varint(2, (ulong)digest.Size);
    }
}
