using System.Security.Cryptography;

namespace Kiln.Core.Trust;

/// <summary>
/// An Ed25519 signing key. Stored as a seed in a text file of mode 0600:
/// <c>kiln-ed25519-secret-v1 BASE64SEED</c>. Its public half is a <see cref="PublicKey"/>.
/// </summary>
public sealed class SigningKey
{
    private const string FileTag = "kiln-ed25519-secret-v1";
    private readonly byte[] _secret = new byte[Sodium.SecretKeyBytes];
    private readonly byte[] _seed;

    private SigningKey(byte[] seed)
    {
        _seed = seed;
        var publicKey = new byte[Sodium.PublicKeyBytes];
        Sodium.KeyPairFromSeed(seed, publicKey, _secret);
        PublicKey = new PublicKey(publicKey);
    }

    /// <summary>The public half.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>Makes a new random key.</summary>
    public static SigningKey Generate() => new(RandomNumberGenerator.GetBytes(Sodium.SeedBytes));

    /// <summary>A key from a 32-byte seed (tests use fixed seeds).</summary>
    public static SigningKey FromSeed(ReadOnlySpan<byte> seed) =>
        seed.Length == Sodium.SeedBytes ? new(seed.ToArray()) : throw new ArgumentException("an Ed25519 seed has 32 bytes", nameof(seed));

    /// <summary>Signs bytes.</summary>
    public byte[] Sign(ReadOnlySpan<byte> message) => Sodium.Sign(message, _secret);

    /// <summary>Writes the key to a new file readable only by its owner (fails if the file exists).</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write($"{FileTag} {Convert.ToBase64String(_seed)}\n");
    }

    /// <summary>Reads a key file, or returns null with a reason a person can act on.</summary>
    public static SigningKey? Load(string path, out string? error)
    {
        error = null;
        string text;
        try
        {
            if ((File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            {
                error = $"{path}: a private key must be readable only by its owner (chmod 600)";
                return null;
            }

            text = File.ReadAllText(path).Trim();
        }
        catch (IOException e)
        {
            error = $"{path}: {e.Message}";
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            error = $"{path}: {e.Message}";
            return null;
        }

        var parts = text.Split(' ');
        if (parts.Length != 2 || parts[0] != FileTag)
        {
            error = $"{path}: not a Kiln private key (expected '{FileTag} BASE64')";
            return null;
        }

        var seed = new byte[Sodium.SeedBytes];
        if (!Convert.TryFromBase64String(parts[1], seed, out var written) || written != Sodium.SeedBytes)
        {
            error = $"{path}: the key's seed is not 32 bytes of base64";
            return null;
        }

        return new SigningKey(seed);
    }
}
