using System.Buffers.Binary;
using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>Reads what <see cref="CanonicalWriter"/> wrote; a short or malformed input sets <see cref="Ok"/> to false.</summary>
public ref struct CanonicalReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    /// <summary>False once a read ran past the end or met an impossible length.</summary>
    public bool Ok { get; private set; } = true;

    /// <summary>True when every byte was read.</summary>
    public readonly bool AtEnd => _position == _data.Length;

    /// <summary>Reads a 32-bit big-endian integer.</summary>
    public int Int()
    {
        if (!Take(4, out var s))
        {
            return 0;
        }

        return BinaryPrimitives.ReadInt32BigEndian(s);
    }

    /// <summary>Reads a 64-bit big-endian integer.</summary>
    public long Long()
    {
        if (!Take(8, out var s))
        {
            return 0;
        }

        return BinaryPrimitives.ReadInt64BigEndian(s);
    }

    /// <summary>Reads a length-prefixed UTF-8 string.</summary>
    public string? String()
    {
        var length = Int();
        // Invalid UTF-8 is refused, not replaced: a lossy decode would give two wire forms one meaning.
        if (length < 0 || !Take(length, out var s) || !System.Text.Unicode.Utf8.IsValid(s))
        {
            Ok = false;
            return null;
        }

        return Encoding.UTF8.GetString(s);
    }

    /// <summary>Reads an action key's 32 bytes.</summary>
    public ActionKey Key() => Take(ActionKey.Length, out var bytes) ? ActionKey.FromBytes(bytes) : default;

    /// <summary>Reads a digest (hash bytes then size).</summary>
    public Digest Digest()
    {
        if (!Take(Hashing.Digest.HashLength, out var hash))
        {
            return default;
        }

        var size = Long();
        if (size < 0)
        {
            Ok = false;
            return default;
        }

        return Ok ? Hashing.Digest.FromHash(hash, size) : default;
    }

    private bool Take(int count, out ReadOnlySpan<byte> slice)
    {
        if (!Ok || count > _data.Length - _position)
        {
            Ok = false;
            slice = default;
            return false;
        }

        slice = _data.Slice(_position, count);
        _position += count;
        return true;
    }
}
