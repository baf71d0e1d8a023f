namespace Kiln.Server.Cache;

/// <summary>
/// Parses the part of a ccache request path after <c>/ccache/</c> into a <see cref="CcacheKey"/>:
/// <c>ab/cdef…</c> (subdirs), <c>abcdef…</c> (flat) or <c>ac/&lt;64 hex&gt;</c> (bazel), each with
/// either key spelling. Anything else (other characters, other lengths, extra segments, encoded
/// slashes) is refused with a short reason.
/// </summary>
public static class CcachePathParser
{
    /// <summary>The longest path worth looking at: <c>ac/</c> + 64 hex.</summary>
    public const int MaxLength = 3 + 64;

    /// <summary>Parses <paramref name="path"/> (no leading slash); false with a reason when it names no key.</summary>
    public static bool TryParse(ReadOnlySpan<char> path, out CcacheKey key, out string error)
    {
        key = default;
        if (path.Length == 0)
        {
            error = "missing ccache key";
            return false;
        }

        if (path.Length > MaxLength)
        {
            error = "path too long for a ccache key";
            return false;
        }

        if (path.Length == MaxLength && path.StartsWith("ac/"))
        {
            return TryParseBazel(path[3..], out key, out error);
        }

        var layout = CcacheLayout.Flat;
        Span<char> joined = stackalloc char[CcacheKey.HexLength];
        scoped ReadOnlySpan<char> spelling = path;
        if (path.Length > 2 && path[2] == '/')
        {
            // Subdirs: the first two characters of the key, a slash, the rest.
            layout = CcacheLayout.Subdirs;
            var rest = path[3..];
            if (rest.Length + 2 > joined.Length)
            {
                error = "not a ccache key";
                return false;
            }

            path[..2].CopyTo(joined);
            rest.CopyTo(joined[2..]);
            spelling = joined[..(rest.Length + 2)];
        }

        if (!TryCanonical(spelling, out var hex))
        {
            error = "not a ccache key (want 4 hex + 29 base32hex, or 40 hex, lowercase)";
            return false;
        }

        key = new CcacheKey(hex, layout);
        error = "";
        return true;
    }

    /// <summary>
    /// Turns a key spelling (33 or 40 characters) into 40 lowercase hex; false when it is neither
    /// spelling or is not the canonical form (the unused low bit of the last base32hex digit must be 0).
    /// </summary>
    public static bool TryCanonical(ReadOnlySpan<char> spelling, out string hex)
    {
        hex = "";
        Span<byte> bytes = stackalloc byte[CcacheKey.ByteLength];
        if (spelling.Length == CcacheKey.HexLength)
        {
            if (!LowerHex.TryDecode(spelling, bytes))
            {
                return false;
            }
        }
        else if (spelling.Length == CcacheKey.Base32Length)
        {
            if (!LowerHex.TryDecode(spelling[..4], bytes[..2]) || !Base32Hex.TryDecode(spelling[4..], bytes[2..]))
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        hex = Convert.ToHexStringLower(bytes);
        return true;
    }

    private static bool TryParseBazel(ReadOnlySpan<char> hex64, out CcacheKey key, out string error)
    {
        key = default;
        Span<byte> bytes = stackalloc byte[32];
        if (!LowerHex.TryDecode(hex64, bytes))
        {
            error = "not a ccache key (bazel layout wants 64 lowercase hex)";
            return false;
        }

        // ccache pads its 40 hex to 64 by repeating its own first 24: anything else is not a ccache key.
        if (!hex64[CcacheKey.HexLength..].SequenceEqual(hex64[..(64 - CcacheKey.HexLength)]))
        {
            error = "not a ccache key (bazel layout: the last 24 hex must repeat the first 24)";
            return false;
        }

        key = new CcacheKey(hex64[..CcacheKey.HexLength].ToString(), CcacheLayout.Bazel);
        error = "";
        return true;
    }
}
