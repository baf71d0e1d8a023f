using System.Security.Cryptography;
using System.Text;

namespace Kiln.Core.Security;

/// <summary>An identity a token proves: its id, a name for people, and its role.</summary>
public sealed record Identity(string Id, string Name, Role Role)
{
    /// <summary>The identity of a peer that presented no credentials.</summary>
    public static readonly Identity Anonymous = new("anonymous", "anonymous", 0);

    /// <summary>True when the identity holds at least <paramref name="needed"/>.</summary>
    public bool Has(Role needed) => Role >= needed;
}

/// <summary>
/// Bearer tokens of the form <c>kiln_ID_SECRET</c>. The node keeps only SHA-256 of each secret (a
/// stolen token file grants nothing) in a file of mode 0600, one line per token:
/// <c>ID ROLE SHA256HEX NAME</c>. Checks compare hashes in constant time.
/// </summary>
public sealed class TokenStore
{
    private const string CertificatePrefix = "cert";
    private readonly string _path;
    private readonly Lock _lock = new();
    private Dictionary<string, (Role Role, byte[] Hash, string Name)> _tokens = new(StringComparer.Ordinal);
    private DateTime _loadedWrite;

    /// <summary>Opens (or starts) the token file at <paramref name="path"/>.</summary>
    public TokenStore(string path)
    {
        _path = path;
        Reload();
    }

    /// <summary>Creates a token and returns its text (shown once; only its hash is kept).</summary>
    public string Create(Role role, string name)
    {
        if (name.Any(char.IsWhiteSpace) || name.Length is 0 or > 64)
        {
            throw new ArgumentException("a token name is one word of at most 64 characters", nameof(name));
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('+', '-').Replace('/', '.');
        lock (_lock)
        {
            Reload();
            _tokens[id] = (role, SHA256.HashData(Encoding.UTF8.GetBytes(secret)), name);
            Save();
        }

        return $"kiln_{id}_{secret}";
    }

    /// <summary>
    /// Grants <paramref name="role"/> to the TLS client certificate whose SHA-256 fingerprint is
    /// <paramref name="fingerprint"/> (64 hex characters); returns the entry's id (<c>cert</c> and
    /// the fingerprint's first 12 characters), which <see cref="Revoke"/> takes.
    /// </summary>
    public string AddCertificate(string fingerprint, Role role, string name)
    {
        if (name.Any(char.IsWhiteSpace) || name.Length is 0 or > 64)
        {
            throw new ArgumentException("a name is one word of at most 64 characters", nameof(name));
        }

        var fp = fingerprint.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
        if (fp.Length != 64 || !fp.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException("a certificate fingerprint is 64 hex characters (SHA-256)", nameof(fingerprint));
        }

        var id = CertificatePrefix + fp[..12];
        lock (_lock)
        {
            Reload();
            _tokens[id] = (role, Convert.FromHexString(fp), name);
            Save();
        }

        return id;
    }

    /// <summary>The identity a client certificate's fingerprint proves, or null when none was granted.</summary>
    public Identity? AuthenticateCertificate(string fingerprint)
    {
        if (fingerprint.Length != 64 || !fingerprint.All(char.IsAsciiHexDigit))
        {
            return null;
        }

        var id = CertificatePrefix + fingerprint[..12].ToLowerInvariant();
        var presented = Convert.FromHexString(fingerprint);
        lock (_lock)
        {
            Reload();
            return _tokens.TryGetValue(id, out var entry) && CryptographicOperations.FixedTimeEquals(presented, entry.Hash)
                ? new Identity(id, entry.Name, entry.Role)
                : null;
        }
    }

    /// <summary>True while no token or certificate has been granted (a fresh node).</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_lock)
            {
                Reload();
                return _tokens.Count == 0;
            }
        }
    }

    /// <summary>Removes a token by id; false when unknown.</summary>
    public bool Revoke(string id)
    {
        lock (_lock)
        {
            Reload();
            if (!_tokens.Remove(id))
            {
                return false;
            }

            Save();
            return true;
        }
    }

    /// <summary>The tokens (id, name, role), without secrets.</summary>
    public IReadOnlyList<Identity> List()
    {
        lock (_lock)
        {
            Reload();
            return _tokens.Select(t => new Identity(t.Key, t.Value.Name, t.Value.Role)).OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The identity a token proves, or null when it is malformed, unknown or wrong.</summary>
    public Identity? Authenticate(string? token)
    {
        if (token is null || !token.StartsWith("kiln_", StringComparison.Ordinal) || token.Length > 200)
        {
            return null;
        }

        var underscore = token.IndexOf('_', 5);
        if (underscore < 0)
        {
            return null;
        }

        var id = token[5..underscore];
        if (id.StartsWith(CertificatePrefix, StringComparison.Ordinal))
        {
            // Certificate entries hold a fingerprint, not a secret's hash: no token can stand for them.
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(token[(underscore + 1)..]));
        lock (_lock)
        {
            Reload();
            if (!_tokens.TryGetValue(id, out var entry) || !CryptographicOperations.FixedTimeEquals(hash, entry.Hash))
            {
                return null;
            }

            return new Identity(id, entry.Name, entry.Role);
        }
    }

    private void Reload()
    {
        // Tokens created by `kiln token create` in another process take effect without a restart.
        // One stat per call (a missing file reads as 1601-01-01): every request of a node asks.
        var write = File.GetLastWriteTimeUtc(_path);
        if (write == _loadedWrite)
        {
            return;
        }

        var tokens = new Dictionary<string, (Role, byte[], string)>(StringComparer.Ordinal);
        if (File.Exists(_path))
        {
            foreach (var line in File.ReadAllLines(_path))
            {
                var parts = line.Split(' ');
                if (parts.Length == 4 && Enum.TryParse<Role>(parts[1], ignoreCase: true, out var role) && parts[2].Length == 64)
                {
                    tokens[parts[0]] = (role, Convert.FromHexString(parts[2]), parts[3]);
                }
            }
        }

        _tokens = tokens;
        _loadedWrite = write;
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
        var temp = _path + ".tmp";
        var text = new StringBuilder();
        foreach (var (id, (role, hash, name)) in _tokens)
        {
            text.Append(id).Append(' ').Append(role.ToString().ToLowerInvariant()).Append(' ').Append(Convert.ToHexStringLower(hash)).Append(' ').Append(name).Append('\n');
        }

        File.WriteAllText(temp, text.ToString());
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, _path, overwrite: true);
        _loadedWrite = File.GetLastWriteTimeUtc(_path);
    }
}
