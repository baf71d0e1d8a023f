using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Kiln.Core.Protocol;

/// <summary>
/// Reads payload fields in order. The first field that runs past the end or is invalid records a
/// message naming it; later reads return defaults, so a parser checks <see cref="Error"/> once.
/// Blobs are slices of the payload, never copies.
/// </summary>
internal struct KilnPayloadReader(ReadOnlyMemory<byte> payload, string frameName)
{
    private readonly ReadOnlyMemory<byte> _payload = payload;
    private readonly string _frameName = frameName;
    private int _position;

    public string? Error { get; private set; }

    public readonly int Remaining => _payload.Length - _position;

    private bool Take(int length, string field, out ReadOnlySpan<byte> span)
    {
        if (Error is not null || length > Remaining)
        {
            Fail($"field '{field}' runs past the end of the frame");
            span = default;
            return false;
        }

        span = _payload.Span.Slice(_position, length);
        _position += length;
        return true;
    }

    public void Fail(string message) => Error ??= $"{_frameName}: {message}";

    public byte U8(string field) => Take(1, field, out var s) ? s[0] : (byte)0;

    public ushort U16(string field) => Take(2, field, out var s) ? BinaryPrimitives.ReadUInt16BigEndian(s) : (ushort)0;

    public uint U32(string field) => Take(4, field, out var s) ? BinaryPrimitives.ReadUInt32BigEndian(s) : 0u;

    public int I32(string field) => Take(4, field, out var s) ? BinaryPrimitives.ReadInt32BigEndian(s) : 0;

    public ulong U64(string field) => Take(8, field, out var s) ? BinaryPrimitives.ReadUInt64BigEndian(s) : 0ul;

    public ReadOnlySpan<byte> Bytes(int length, string field) => Take(length, field, out var s) ? s : default;

    public string String16(string field)
    {
        var length = U16(field);
        if (!Take(length, field, out var s))
        {
            return "";
        }

        // Strings become file names, arguments and environment values: reject invalid UTF-8 and NUL.
        if (!Utf8.IsValid(s) || s.Contains((byte)0))
        {
            Fail($"field '{field}' is not valid UTF-8 text without NUL");
            return "";
        }

        return length == 0 ? "" : Encoding.UTF8.GetString(s);
    }

    public ReadOnlyMemory<byte> Blob32(string field)
    {
        var length = U32(field);
        if (Error is not null)
        {
            return default;
        }

        if (length > (uint)Remaining)
        {
            Fail($"field '{field}' announces {length} bytes; only {Remaining} remain in the frame");
            return default;
        }

        var slice = _payload.Slice(_position, (int)length);
        _position += (int)length;
        return slice;
    }

    /// <summary>Records an error when bytes remain after the last field: version 1 layouts are exact.</summary>
    public void End()
    {
        if (Error is null && Remaining != 0)
        {
            Fail($"{Remaining} bytes after the last field");
        }
    }
}
