using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Core.Trust;

/// <summary>
/// The ActionKey an attestation names for an action cache entry. In the Kiln namespace the entry's
/// key is the ActionKey itself; entries of other front ends (ccache keys, Bazel action digests) are
/// named by SHA-256 of their namespace and key, so one attestation format covers every front end and
/// an attestation for a ccache entry can never be replayed for a Bazel one.
/// </summary>
public static class AttestationSubject
{
    /// <summary>The action cache namespace of results the Kiln protocol computes.</summary>
    public const string KilnNamespace = "kiln";

    /// <summary>The version tag of the encoding of a foreign entry's name.</summary>
    public const string EntryTag = "kiln-entry-v1";

    /// <summary>The ActionKey attestations about the entry (<paramref name="ns"/>, <paramref name="key"/>) name.</summary>
    public static ActionKey Of(string ns, string key)
    {
        if (ns == KilnNamespace && key.Length == ActionKey.Length * 2)
        {
            Span<byte> raw = stackalloc byte[ActionKey.Length];
            if (Convert.FromHexString(key, raw, out _, out var written) == System.Buffers.OperationStatus.Done && written == ActionKey.Length)
            {
                return ActionKey.FromBytes(raw);
            }
        }

        return ActionKey.FromEncoding(new CanonicalWriter(EntryTag).String(ns).String(key).ToArray());
    }
}
