namespace Kiln.Core.Discovery;

/// <summary>RDATA of a type this codec does not decode, kept as bytes (compressed names inside stay unexpanded).</summary>
public sealed record UnknownData(byte[] Bytes) : DnsRecordData
{
    /// <inheritdoc />
    public bool Equals(UnknownData? other) => other is not null && Bytes.AsSpan().SequenceEqual(other.Bytes);

    /// <inheritdoc />
    public override int GetHashCode() => Bytes.Length;
}
