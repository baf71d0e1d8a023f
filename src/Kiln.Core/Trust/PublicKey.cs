using System.Security.Cryptography;

namespace Kiln.Core.Trust;

/// <summary>
/// An Ed25519 public key. Text form <c>ed25519:BASE64</c>; its <see cref="Id"/> is the first 16 hex
/// characters of SHA-256 of the key bytes, short enough to read and compare by eye.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    private const string Prefix = "ed25519:";
    private readonly byte[] _bytes;

    /// <summary>Wraps 32 key bytes.</summary>
    public PublicKey(byte[] bytes)
    {
        if (bytes.Length != Sodium.PublicKeyBytes)
        {
            throw new ArgumentException("an Ed25519 public key has 32 bytes", nameof(bytes));
        }

        _bytes = bytes;
        Id = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
    }

    /// <summary>The short key id.</summary>
    public string Id { get; }

    /// <summary>The raw key bytes.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>True when <paramref name="signature"/> signs <paramref name="message"/> under this key.</summary>
    public bool Verify(ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature) => Sodium.Verify(signature, message, _bytes);

    /// <summary>Parses <c>ed25519:BASE64</c>.</summary>
    public static bool TryParse(string text, out PublicKey? key)
    {
        key = null;
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var bytes = new byte[Sodium.PublicKeyBytes];
        if (!Convert.TryFromBase64String(text[Prefix.Length..], bytes, out var written) || written != bytes.Length)
        {
            return false;
        }

        key = new PublicKey(bytes);
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Prefix + Convert.ToBase64String(_bytes);

    /// <inheritdoc/>
    public bool Equals(PublicKey? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);
}
