using System.Buffers.Binary;
using System.Text;

namespace Kiln.Core.Protocol;

/// <summary>
/// Writes payload fields big-endian into a span whose size the caller measured with the
/// <c>…Size</c> helpers. Strings are a 2-byte length and UTF-8; blobs a 4-byte length and bytes.
/// </summary>
internal ref struct KilnPayloadWriter(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;
    private int _position;

    public readonly int Position => _position;

    public static int String16Size(string value) => 2 + Encoding.UTF8.GetByteCount(value);

    public static int Blob32Size(int length) => 4 + length;

    public void U8(byte value) => _destination[_position++] = value;

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_destination[_position..], value);
        _position += 2;
    }

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_destination[_position..], value);
        _position += 4;
    }

    public void I32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_destination[_position..], value);
        _position += 4;
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_destination[_position..], value);
        _position += 8;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_destination[_position..]);
        _position += value.Length;
    }

    public Span<byte> Reserve(int length)
    {
        var span = _destination.Slice(_position, length);
        _position += length;
        return span;
    }

    public void String16(string value)
    {
        var written = Encoding.UTF8.GetBytes(value, _destination[(_position + 2)..]);
        if (written > ushort.MaxValue)
        {
            throw new ArgumentException($"string of {written} UTF-8 bytes exceeds the protocol's 65535", nameof(value));
        }

        BinaryPrimitives.WriteUInt16BigEndian(_destination[_position..], (ushort)written);
        _position += 2 + written;
    }

    public void Blob32(ReadOnlySpan<byte> value)
    {
        U32((uint)value.Length);
        Bytes(value);
    }
}
