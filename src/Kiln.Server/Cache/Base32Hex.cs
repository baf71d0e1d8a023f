namespace Kiln.Server.Cache;

/// <summary>
/// Lowercase base32hex (RFC 4648 §7 alphabet <c>0-9a-v</c>, most significant bit first, no padding)
/// as ccache 4.4–4.12 spells the last 18 bytes of a key.
/// </summary>
internal static class Base32Hex
{
    /// <summary>
    /// Decodes <paramref name="text"/> into exactly <paramref name="destination"/>; false when a character is
    /// outside the alphabet, the length does not fit, or the unused trailing bits are not zero.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        if (text.Length != ((destination.Length * 8) + 4) / 5)
        {
            return false;
        }

        var buffer = 0;
        var bits = 0;
        var written = 0;
        foreach (var c in text)
        {
            var v = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'v' => c - 'a' + 10,
                _ => -1,
            };
            if (v < 0)
            {
                return false;
            }

            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                destination[written++] = (byte)(buffer >> bits);
                buffer &= (1 << bits) - 1;
            }
        }

        // The leftover bits pad the last digit; a canonical spelling leaves them zero.
        return written == destination.Length && buffer == 0;
    }
}
