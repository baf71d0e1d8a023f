using Kiln.Core.Trust;
using Kiln.Server.Hosting;

namespace Kiln.Server.Trust;

/// <summary>
/// The node's trust state: its own signing key (made in DATA/keys/node.key, mode 0600, on first
/// start), the keys it accepts attestations from, and the named policies consumers choose from.
/// Read once at start; the sets are not changed afterwards, so readers need no lock.
/// </summary>
public sealed class NodeTrust
{
    /// <summary>The policy name of the unnamed (default) policy.</summary>
    public const string DefaultPolicyName = "default";

    private readonly Dictionary<string, TrustPolicy> _policies = new(StringComparer.Ordinal);

    /// <summary>Loads (creating the node key when absent) from the node's options.</summary>
    public NodeTrust(KilnNodeOptions options)
    {
        var trust = options.Trust;
        KeyFile = Path.Combine(options.DataDirectory, "keys", "node.key");
        NodeKey = LoadOrCreateKey(KeyFile);
        var errors = new List<string>();

        var trustFile = trust.TrustFile ?? Path.Combine(options.DataDirectory, "trust");
        var listed = File.Exists(trustFile) ? TrustStore.Parse(File.ReadAllText(trustFile), errors) : new TrustStore();
        foreach (var k in trust.ExtraKeys.Keys)
        {
            listed.Add(k.Owner, k.Key, k.Status);
        }

        Default = new TrustPolicy(listed, trust.DefaultK);
        _policies[DefaultPolicyName] = Default;

        var policyDir = trust.PolicyDirectory ?? Path.Combine(options.DataDirectory, "policies");
        if (Directory.Exists(policyDir))
        {
            foreach (var file in Directory.EnumerateFiles(policyDir, "*.policy"))
            {
                var name = Path.GetFileNameWithoutExtension(file);
                if (IsPolicyName(name))
                {
                    _policies[name] = PolicyFile.Parse(File.ReadAllText(file), errors);
                }
            }
        }

        foreach (var (name, policy) in trust.Policies)
        {
            _policies[name] = policy;
        }

        // Every key some policy names is known, plus the node's own; a key revoked anywhere is revoked.
        Known = new TrustStore();
        Known.Add("self", NodeKey.PublicKey);
        foreach (var policy in _policies.Values)
        {
            foreach (var k in policy.Keys.Keys)
            {
                var prior = Known.Find(k.Key.Id);
                if (prior is null || prior.Status != KeyStatus.Revoked)
                {
                    Known.Add(prior?.Owner is { } owner && owner != "self" ? owner : k.Owner, k.Key, k.Status);
                }
            }
        }

        Errors = errors;
    }

    /// <summary>The node's signing key.</summary>
    public SigningKey NodeKey { get; }

    /// <summary>Where the node's key lives.</summary>
    public string KeyFile { get; }

    /// <summary>The keys whose attestations the node stores (others are rejected as unknown).</summary>
    public TrustStore Known { get; }

    /// <summary>The policy of consumers that name none.</summary>
    public TrustPolicy Default { get; }

    /// <summary>Lines of the trust list or policy files that did not parse (and were skipped).</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>The names of the policies consumers may choose.</summary>
    public IEnumerable<string> PolicyNames => _policies.Keys;

    /// <summary>The policy called <paramref name="name"/>, or null when the node has none by that name.</summary>
    public TrustPolicy? Find(string name) => _policies.GetValueOrDefault(name);

    /// <summary>
    /// The policy for a consumer that named <paramref name="name"/> (null: the default). An unknown
    /// name gets a policy nothing satisfies, so a typo withholds results rather than serving them unchecked.
    /// </summary>
    public TrustPolicy Resolve(string? name) =>
        name is null ? Default : Find(name) ?? Unsatisfiable;

    /// <summary>A policy no result meets: one owner must agree, and no key is trusted.</summary>
    public static TrustPolicy Unsatisfiable { get; } = new(new TrustStore(), 1);

    /// <summary>True for a policy name: letters, digits, '-', '_' and '.', at most 64 characters, not starting with '.'.</summary>
    public static bool IsPolicyName(ReadOnlySpan<char> name)
    {
        if (name.Length is 0 or > 64 || name[0] == '.')
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    private static SigningKey LoadOrCreateKey(string path)
    {
        if (!File.Exists(path))
        {
            try
            {
                SigningKey.Generate().Save(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process made it first; read theirs.
            }
        }

        return SigningKey.Load(path, out var error)
            ?? throw new InvalidOperationException($"the node's signing key cannot be used: {error}");
    }
}
