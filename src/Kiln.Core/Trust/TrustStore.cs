namespace Kiln.Core.Trust;

/// <summary>The state of a trusted key.</summary>
public enum KeyStatus
{
    /// <summary>In use: its attestations count.</summary>
    Active,

    /// <summary>Rotated out: its past attestations still count for its owner; it should sign no more.</summary>
    Retired,

    /// <summary>Compromised or withdrawn: none of its attestations count, past or future.</summary>
    Revoked,
}

/// <summary>One key a consumer trusts, with the owner it belongs to.</summary>
public sealed record TrustedKey(string Owner, PublicKey Key, KeyStatus Status);

/// <summary>
/// The keys a consumer trusts, grouped by owner. Agreement is counted in owners, not keys: one owner
/// with three keys is one voice. Saved as lines <c>OWNER ed25519:BASE64 STATUS</c>.
/// </summary>
public sealed class TrustStore
{
    private readonly Dictionary<string, TrustedKey> _byId = new(StringComparer.Ordinal);

    /// <summary>Every key, in the order added.</summary>
    public IReadOnlyCollection<TrustedKey> Keys => _byId.Values;

    /// <summary>The key with this id, or null.</summary>
    public TrustedKey? Find(string keyId) => _byId.GetValueOrDefault(keyId);

    /// <summary>Adds a key for an owner (or changes the owner or status of a known key).</summary>
    public void Add(string owner, PublicKey key, KeyStatus status = KeyStatus.Active)
    {
        if (string.IsNullOrWhiteSpace(owner) || owner.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException("an owner is one word (for example alice or ci.example.org)", nameof(owner));
        }

        _byId[key.Id] = new TrustedKey(owner, key, status);
    }

    /// <summary>Sets a key's status; false when the key is unknown.</summary>
    public bool SetStatus(string keyId, KeyStatus status)
    {
        if (!_byId.TryGetValue(keyId, out var k))
        {
            return false;
        }

        _byId[keyId] = k with { Status = status };
        return true;
    }

    /// <summary>Removes a key entirely; false when unknown.</summary>
    public bool Remove(string keyId) => _byId.Remove(keyId);

    /// <summary>Writes the store as text.</summary>
    public string Serialize()
    {
        var lines = new System.Text.StringBuilder();
        foreach (var k in _byId.Values)
        {
            lines.Append(k.Owner).Append(' ').Append(k.Key).Append(' ').Append(k.Status.ToString().ToLowerInvariant()).Append('\n');
        }

        return lines.ToString();
    }

    /// <summary>Reads a store; lines that do not parse are reported in <paramref name="errors"/> and skipped.</summary>
    public static TrustStore Parse(string text, List<string> errors)
    {
        var store = new TrustStore();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || !PublicKey.TryParse(parts[1], out var key)
                || !Enum.TryParse<KeyStatus>(parts[2], ignoreCase: true, out var status))
            {
                errors.Add($"line {number}: expected 'OWNER ed25519:BASE64 active|retired|revoked'");
                continue;
            }

            store.Add(parts[0], key!, status);
        }

        return store;
    }
}
