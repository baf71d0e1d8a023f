using System.Buffers.Binary;
using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>
/// Builds canonical encodings: a version line, then length-prefixed fields in a fixed order. Every
/// variable-length field carries its length, so no two different field lists encode the same bytes.
/// </summary>
public sealed class CanonicalWriter
{
    private readonly MemoryStream _buffer = new();

    /// <summary>Starts an encoding with its type and version tag (for example "kiln-compile-v1").</summary>
    public CanonicalWriter(string tag)
    {
        String(tag);
    }

    /// <summary>Appends a string (UTF-8, 4-byte big-endian length first).</summary>
    public CanonicalWriter String(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Int(bytes.Length);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>Appends a 32-bit integer, big-endian.</summary>
    public CanonicalWriter Int(int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    /// <summary>Appends a 64-bit integer, big-endian.</summary>
    public CanonicalWriter Long(long value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(b, value);
        _buffer.Write(b);
        return this;
    }

    /// <summary>Appends a digest: 32 hash bytes then the size.</summary>
    public CanonicalWriter Digest(Digest digest)
    {
        Span<byte> b = stackalloc byte[Hashing.Digest.HashLength];
        digest.WriteHash(b);
        _buffer.Write(b);
        return Long(digest.Size);
    }

    /// <summary>Appends an action key's 32 bytes.</summary>
    public CanonicalWriter Key(ActionKey key)
    {
        Span<byte> b = stackalloc byte[ActionKey.Length];
        key.WriteTo(b);
        _buffer.Write(b);
        return this;
    }

    /// <summary>Appends a list of strings: count, then each.</summary>
    public CanonicalWriter Strings(IReadOnlyList<string> values)
    {
        Int(values.Count);
        foreach (var v in values)
        {
            String(v);
        }

        return this;
    }

    /// <summary>The encoding so far.</summary>
    public byte[] ToArray() => _buffer.ToArray();

    /// <summary>SHA-256 of the encoding, with its length as the size.</summary>
    public Digest ToDigest()
    {
        _buffer.TryGetBuffer(out var segment);
        return Hashing.Digest.FromBytes(segment);
    }
}
