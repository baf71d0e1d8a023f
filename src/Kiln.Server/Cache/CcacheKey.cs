namespace Kiln.Server.Cache;

/// <summary>
/// A ccache remote storage key as the node stores it: the 20 raw key bytes as 40 lowercase hex,
/// whichever spelling and layout the client used (4.7.5's 4 hex + 29 base32hex, 4.13's 40 hex, or
/// the Bazel layout's 64 hex), so every client version and layout meets the same entry.
/// </summary>
/// <param name="Hex">The key as 40 lowercase hex characters.</param>
/// <param name="Layout">The layout the request's path used.</param>
public readonly record struct CcacheKey(string Hex, CcacheLayout Layout)
{
    /// <summary>Bytes in a ccache key (a BLAKE3 digest cut to 160 bits).</summary>
    public const int ByteLength = 20;

    /// <summary>Length of the 4.13+ spelling: 40 lowercase hex characters.</summary>
    public const int HexLength = 2 * ByteLength;

    /// <summary>Length of the 4.4–4.12 spelling: 4 hex (2 bytes) + 29 base32hex (18 bytes).</summary>
    public const int Base32Length = 4 + 29;
}
