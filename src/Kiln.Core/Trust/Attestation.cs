using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Core.Trust;

/// <summary>How the signer came to the result it attests.</summary>
public enum AttestationKind
{
    /// <summary>The signer ran the action to serve it.</summary>
    Executed = 1,

    /// <summary>The signer re-ran an action someone else ran, to check it.</summary>
    Rebuilt = 2,
}

/// <summary>
/// A signed statement: "running <see cref="Action"/> gave <see cref="Result"/>", by the key
/// <see cref="KeyId"/> at <see cref="Time"/>. Stored apart from results so signatures can arrive later.
/// The signature covers the canonical statement (<see cref="Statement()"/>), never the transport bytes.
/// </summary>
public sealed record Attestation(ActionKey Action, Digest Result, string KeyId, DateTimeOffset Time, AttestationKind How, byte[] Signature)
{
    /// <summary>The version tag of the signed statement.</summary>
    public const string StatementTag = "kiln-attestation-v1";

    /// <summary>The bytes the signature covers.</summary>
    public byte[] Statement() => Statement(Action, Result, KeyId, Time, How);

    private static byte[] Statement(ActionKey action, Digest result, string keyId, DateTimeOffset time, AttestationKind how) =>
        new CanonicalWriter(StatementTag).Key(action).Digest(result).String(keyId)
            .Long(time.ToUnixTimeMilliseconds()).Int((int)how).ToArray();

    /// <summary>Signs a statement with <paramref name="key"/>.</summary>
    public static Attestation Create(SigningKey key, ActionKey action, Digest result, AttestationKind how, DateTimeOffset time)
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
        var signature = key.Sign(Statement(action, result, key.PublicKey.Id, at, how));
        return new Attestation(action, result, key.PublicKey.Id, at, how, signature);
    }

    /// <summary>The wire form: the statement, then the signature, each length-prefixed.</summary>
    public byte[] Encode()
    {
        var statement = Statement();
        var w = new CanonicalWriter("kiln-signed-v1").Int(statement.Length);
        var head = w.ToArray();
        var result = new byte[head.Length + statement.Length + 4 + Signature.Length];
        head.CopyTo(result, 0);
        statement.CopyTo(result, head.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(result.AsSpan(head.Length + statement.Length), Signature.Length);
        Signature.CopyTo(result, head.Length + statement.Length + 4);
        return result;
    }

    /// <summary>The latest time an attestation may carry: the last millisecond DateTimeOffset holds (year 9999).</summary>
    private static readonly long s_maxTime = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>Decodes the wire form; null when the bytes are truncated, padded or not an attestation.</summary>
    public static Attestation? Decode(ReadOnlySpan<byte> data)
    {
        var outer = new CanonicalReader(data);
        if (outer.String() != "kiln-signed-v1")
        {
            return null;
        }

        var statementLength = outer.Int();
        const int headLength = 4 + 14 + 4;
        if (!outer.Ok || statementLength < 0 || statementLength > data.Length - headLength - 4)
        {
            return null;
        }

        var statement = data.Slice(headLength, statementLength);
        var rest = data[(headLength + statementLength)..];
        if (rest.Length != 4 + 64 || System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(rest) != 64)
        {
            return null;
        }

        var r = new CanonicalReader(statement);
        if (r.String() != StatementTag)
        {
            return null;
        }

        var action = r.Key();
        var result = r.Digest();
        var keyId = r.String();
        var time = r.Long();
        var how = r.Int();
        if (!r.Ok || !r.AtEnd || keyId is null || how is not (1 or 2) || time < 0 || time > s_maxTime)
        {
            return null;
        }

        return new Attestation(action, result, keyId, DateTimeOffset.FromUnixTimeMilliseconds(time), (AttestationKind)how, rest[4..].ToArray());
    }
}
