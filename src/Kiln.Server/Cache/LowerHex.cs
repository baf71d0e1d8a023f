namespace Kiln.Server.Cache;

/// <summary>Strict lowercase hex decoding: the cache front ends accept one spelling per key.</summary>
internal static class LowerHex
{
    /// <summary>Decodes exactly <c>2 × destination.Length</c> lowercase hex characters.</summary>
    public static bool TryDecode(ReadOnlySpan<char> hex, Span<byte> destination)
    {
        if (hex.Length != 2 * destination.Length)
        {
            return false;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            var hi = Value(hex[2 * i]);
            var lo = Value(hex[(2 * i) + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }

            destination[i] = (byte)((hi << 4) | lo);
        }

        return true;
    }

    /// <summary>True when every character is lowercase hex.</summary>
    public static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (Value(c) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static int Value(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        _ => -1,
    };
}
