using System.Runtime.InteropServices;

namespace Kiln.Core.Trust;

/// <summary>Ed25519 through the system's libsodium (no managed Ed25519 is in the BCL or the package mirror).</summary>
internal static partial class Sodium
{
    private const string Library = "libsodium.so.23";

    public const int PublicKeyBytes = 32;
    public const int SecretKeyBytes = 64;
    public const int SeedBytes = 32;
    public const int SignatureBytes = 64;

    private static readonly Lazy<bool> s_initialised = new(() => sodium_init() >= 0);

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_sign_seed_keypair(Span<byte> publicKey, Span<byte> secretKey, ReadOnlySpan<byte> seed);

    [LibraryImport(Library)]
    private static partial int crypto_sign_detached(Span<byte> signature, out ulong signatureLength, ReadOnlySpan<byte> message, ulong messageLength, ReadOnlySpan<byte> secretKey);

    [LibraryImport(Library)]
    private static partial int crypto_sign_verify_detached(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message, ulong messageLength, ReadOnlySpan<byte> publicKey);

    private static void EnsureInitialised()
    {
        if (!s_initialised.Value)
        {
            throw new InvalidOperationException("libsodium could not be initialised");
        }
    }

    /// <summary>Derives the key pair of a 32-byte seed.</summary>
    public static void KeyPairFromSeed(ReadOnlySpan<byte> seed, Span<byte> publicKey, Span<byte> secretKey)
    {
        EnsureInitialised();
        if (seed.Length != SeedBytes || publicKey.Length != PublicKeyBytes || secretKey.Length != SecretKeyBytes
            || crypto_sign_seed_keypair(publicKey, secretKey, seed) != 0)
        {
            throw new ArgumentException("bad Ed25519 seed or buffer sizes");
        }
    }

    /// <summary>Signs a message with a 64-byte secret key.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> message, ReadOnlySpan<byte> secretKey)
    {
        EnsureInitialised();
        var signature = new byte[SignatureBytes];
        if (secretKey.Length != SecretKeyBytes || crypto_sign_detached(signature, out _, message, (ulong)message.Length, secretKey) != 0)
        {
            throw new ArgumentException("bad Ed25519 secret key");
        }

        return signature;
    }

    /// <summary>True when the signature is valid for the message and public key.</summary>
    public static bool Verify(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> message, ReadOnlySpan<byte> publicKey)
    {
        EnsureInitialised();
        return signature.Length == SignatureBytes && publicKey.Length == PublicKeyBytes
            && crypto_sign_verify_detached(signature, message, (ulong)message.Length, publicKey) == 0;
    }
}
