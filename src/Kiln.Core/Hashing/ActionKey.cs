using System.Buffers.Binary;

namespace Kiln.Core.Hashing;

/// <summary>
/// The SHA-256 of an action's canonical encoding: names one build step before its inputs are sent.
/// All-zero means "no key" (the client did not compute one).
/// </summary>
public readonly struct ActionKey : IEquatable<ActionKey>
{
    /// <summary>Length of the key in bytes.</summary>
    public const int Length = 32;

    private readonly ulong _h0, _h1, _h2, _h3;

    private ActionKey(ReadOnlySpan<byte> hash)
    {
        _h0 = BinaryPrimitives.ReadUInt64BigEndian(hash);
        _h1 = BinaryPrimitives.ReadUInt64BigEndian(hash[8..]);
        _h2 = BinaryPrimitives.ReadUInt64BigEndian(hash[16..]);
        _h3 = BinaryPrimitives.ReadUInt64BigEndian(hash[24..]);
    }

    /// <summary>The absent key (all zero).</summary>
    public static ActionKey None => default;

    /// <summary>True when this is the absent key.</summary>
    public bool IsNone => (_h0 | _h1 | _h2 | _h3) == 0;

    /// <summary>Builds a key from its 32 raw bytes.</summary>
    public static ActionKey FromBytes(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != Length)
        {
            throw new ArgumentException($"an action key has {Length} bytes, not {hash.Length}", nameof(hash));
        }

        return new ActionKey(hash);
    }

    /// <summary>The key of a canonical encoding: its SHA-256.</summary>
    public static ActionKey FromEncoding(ReadOnlySpan<byte> encoding)
    {
        Span<byte> hash = stackalloc byte[Length];
        Digest.Sha256(encoding, hash);
        return new ActionKey(hash);
    }

    /// <summary>The 64 lowercase hex characters of the key.</summary>
    public string Hex => ToString();

    /// <summary>Writes the 32 raw bytes.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _h0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _h1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _h2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _h3);
    }

    /// <summary>The 64 lowercase hex characters of the key.</summary>
    public override string ToString()
    {
        Span<byte> hash = stackalloc byte[Length];
        WriteTo(hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <inheritdoc/>
    public bool Equals(ActionKey other) => _h0 == other._h0 && _h1 == other._h1 && _h2 == other._h2 && _h3 == other._h3;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ActionKey other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (int)_h0;

    /// <summary>Equality.</summary>
    public static bool operator ==(ActionKey left, ActionKey right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(ActionKey left, ActionKey right) => !left.Equals(right);
}
