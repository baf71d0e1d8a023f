using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Kiln.Core.Trust;

/// <summary>
/// Remembers signatures already verified, so a cache hit re-checks its attestations' owners and
/// status (which can change: a key is revoked) without repeating the Ed25519 arithmetic, which
/// dominates the policy check (bench/trust.sh). Keyed by SHA-256 of key, message and signature, so
/// a hit in the memo means exactly this key verified exactly this signature over exactly this
/// message. Only successes are remembered; the memo is bounded and starts over when full.
/// </summary>
public static class VerifiedSignatures
{
    /// <summary>The most remembered signatures (about 3 MiB).</summary>
    public const int Capacity = 65_536;

    private static readonly ConcurrentDictionary<UInt128, byte> s_verified = new();

    /// <summary>True when <paramref name="signature"/> signs <paramref name="message"/> under <paramref name="key"/>.</summary>
    public static bool Verify(PublicKey key, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(key.Bytes);
        hash.AppendData(signature);
        hash.AppendData(message);
        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        var memo = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(digest);
        if (s_verified.ContainsKey(memo))
        {
            return true;
        }

        if (!key.Verify(message, signature))
        {
            return false;
        }

        if (s_verified.Count >= Capacity)
        {
            s_verified.Clear();
        }

        s_verified[memo] = 0;
        return true;
    }
}
