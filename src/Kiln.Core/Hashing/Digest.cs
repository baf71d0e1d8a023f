using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Kiln.Core.Hashing;

/// <summary>
/// A SHA-256 hash plus the size of the bytes it covers, as in the Bazel Remote Execution API.
/// Text form: 64 lowercase hex characters (the size travels beside it where a protocol needs it).
/// </summary>
public readonly struct Digest : IEquatable<Digest>, IComparable<Digest>
{
    /// <summary>Length of the hash in bytes.</summary>
    public const int HashLength = 32;

    /// <summary>Length of the hash in hex characters.</summary>
    public const int HexLength = 64;

    private readonly ulong _h0, _h1, _h2, _h3;

    /// <summary>Size in bytes of the content the hash covers.</summary>
    public long Size { get; }

    /// <summary>The digest of zero bytes.</summary>
    public static readonly Digest Empty = FromBytes([]);

    private Digest(ReadOnlySpan<byte> hash, long size)
    {
        _h0 = BinaryPrimitives.ReadUInt64BigEndian(hash);
        _h1 = BinaryPrimitives.ReadUInt64BigEndian(hash[8..]);
        _h2 = BinaryPrimitives.ReadUInt64BigEndian(hash[16..]);
        _h3 = BinaryPrimitives.ReadUInt64BigEndian(hash[24..]);
        Size = size;
    }

    /// <summary>Builds a digest from a raw 32-byte hash and a size.</summary>
    public static Digest FromHash(ReadOnlySpan<byte> hash, long size)
    {
        if (hash.Length != HashLength)
        {
            throw new ArgumentException($"a SHA-256 hash has {HashLength} bytes, not {hash.Length}", nameof(hash));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new Digest(hash, size);
    }

    /// <summary>
    /// Inputs up to this size are hashed in managed code, larger ones by OpenSSL. Loading OpenSSL costs
    /// a <c>kiln cc</c> process about 2-3 ms of CPU; the managed hash takes about that long for a few
    /// hundred KiB (measured here, docs/benchmarks.md, overhead-analysis), which covers a preprocessed
    /// C file.
    /// </summary>
    public const int ManagedHashLimit = 256 * 1024;

    /// <summary>
    /// True in a long-lived process (a node), which has OpenSSL loaded anyway: every input is hashed by
    /// OpenSSL, several times faster than the managed code with the CPU's SHA instructions (the managed
    /// hash was 4 % of a node's CPU per compile in perf). Both give the same digest.
    /// </summary>
    public static bool PlatformSha256 { get; set; }

    /// <summary>Hashes bytes held in memory.</summary>
    public static Digest FromBytes(ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[HashLength];
        Sha256(data, hash);
        return new Digest(hash, data.Length);
    }

    /// <summary>
    /// The SHA-256 of <paramref name="data"/> into <paramref name="hash"/> (32 bytes): in managed code
    /// up to <see cref="ManagedHashLimit"/>, so a short-lived <c>kiln cc</c> that hashes only small
    /// things never loads OpenSSL (about 4 ms of CPU to bind and configure), through OpenSSL beyond.
    /// </summary>
    public static void Sha256(ReadOnlySpan<byte> data, Span<byte> hash)
    {
        if (data.Length <= ManagedHashLimit && !PlatformSha256)
        {
            ManagedSha256.Hash(data, hash);
        }
        else
        {
            SHA256.HashData(data, hash);
        }
    }

    /// <summary>Hashes a stream to its end without loading it whole.</summary>
    public static async ValueTask<Digest> FromStreamAsync(Stream stream, CancellationToken cancellationToken)
    {
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        long size = 0;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hasher.AppendData(buffer, 0, read);
                size += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        Span<byte> hash = stackalloc byte[HashLength];
        hasher.GetHashAndReset(hash);
        return new Digest(hash, size);
    }

    /// <summary>Finishes an incremental SHA-256 into a digest of the given size.</summary>
    public static Digest FromIncremental(IncrementalHash hasher, long size)
    {
        Span<byte> hash = stackalloc byte[HashLength];
        hasher.GetHashAndReset(hash);
        return new Digest(hash, size);
    }

    /// <summary>Parses 64 hex characters (either case) and a size.</summary>
    public static bool TryParse(ReadOnlySpan<char> hex, long size, out Digest digest)
    {
        digest = default;
        if (hex.Length != HexLength || size < 0)
        {
            return false;
        }

        Span<byte> hash = stackalloc byte[HashLength];
        for (var i = 0; i < HashLength; i++)
        {
            var hi = HexValue(hex[2 * i]);
            var lo = HexValue(hex[(2 * i) + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }

            hash[i] = (byte)((hi << 4) | lo);
        }

        digest = new Digest(hash, size);
        return true;
    }

    /// <summary>Parses the text form "hex/size" used in logs and the command line.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Digest digest)
    {
        digest = default;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            return false;
        }

        return long.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, null, out var size)
            && TryParse(text[..slash], size, out digest);
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>Writes the 32 raw hash bytes.</summary>
    public void WriteHash(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _h0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _h1);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _h2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _h3);
    }

    /// <summary>The raw hash bytes as a new array.</summary>
    public byte[] HashBytes()
    {
        var bytes = new byte[HashLength];
        WriteHash(bytes);
        return bytes;
    }

    /// <summary>The 64 lowercase hex characters of the hash.</summary>
    public string Hex
    {
        get
        {
            Span<byte> hash = stackalloc byte[HashLength];
            WriteHash(hash);
            return Convert.ToHexStringLower(hash);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Hex}/{Size}";

    /// <inheritdoc/>
    public bool Equals(Digest other) =>
        _h0 == other._h0 && _h1 == other._h1 && _h2 == other._h2 && _h3 == other._h3 && Size == other.Size;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Digest other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => (int)_h0;

    /// <inheritdoc/>
    public int CompareTo(Digest other)
    {
        var c = _h0.CompareTo(other._h0);
        if (c == 0) { c = _h1.CompareTo(other._h1); }
        if (c == 0) { c = _h2.CompareTo(other._h2); }
        if (c == 0) { c = _h3.CompareTo(other._h3); }
        return c != 0 ? c : Size.CompareTo(other.Size);
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(Digest left, Digest right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Digest left, Digest right) => !left.Equals(right);
}
