using System.Text;

namespace Kiln.Core.Distcc;

/// <summary>
/// Encodes and parses distcc's 12-byte packet header: four ASCII token bytes then eight hex digits.
/// Parsing is strict (exactly eight hex digits, no sign, space or prefix, which distcc's own
/// <c>strtoul</c> check would let through) so that garbage is named as garbage at once.
/// </summary>
public static class DistccHeaderCodec
{
    /// <summary>The length of every header on the wire.</summary>
    public const int Size = 12;

    private static ReadOnlySpan<byte> HexDigits => "0123456789abcdef"u8;

    /// <summary>Writes <paramref name="token"/> and <paramref name="value"/> (lowercase hex, as distcc sends) into 12 bytes.</summary>
    public static void Write(Span<byte> destination, string token, uint value)
    {
        if (token.Length != 4)
        {
            throw new ArgumentException($"a distcc token has four letters, not '{token}'", nameof(token));
        }

        for (var i = 0; i < 4; i++)
        {
            destination[i] = (byte)token[i];
        }

        for (var i = 0; i < 8; i++)
        {
            destination[4 + i] = HexDigits[(int)((value >> (28 - (4 * i))) & 0xf)];
        }
    }

    /// <summary>The 12 header bytes for <paramref name="token"/> and <paramref name="value"/>.</summary>
    public static byte[] Encode(string token, uint value)
    {
        var bytes = new byte[Size];
        Write(bytes, token, value);
        return bytes;
    }

    /// <summary>
    /// Parses a header. Returns false with a message naming the bytes when the token is not four
    /// uppercase ASCII letters or the value is not exactly eight hex digits.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> header, out DistccHeader result, out string? error)
    {
        result = default;
        if (header.Length != Size)
        {
            error = $"a distcc header is {Size} bytes, got {header.Length}";
            return false;
        }

        for (var i = 0; i < 4; i++)
        {
            if (header[i] is < (byte)'A' or > (byte)'Z')
            {
                error = $"not a distcc token: {Printable(header)}";
                return false;
            }
        }

        uint value = 0;
        for (var i = 4; i < Size; i++)
        {
            var c = header[i];
            int digit = c switch
            {
                >= (byte)'0' and <= (byte)'9' => c - '0',
                >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                error = $"distcc header {Printable(header)} has no eight-digit hex value";
                return false;
            }

            value = (value << 4) | (uint)digit;
        }

        result = new DistccHeader(Encoding.ASCII.GetString(header[..4]), value);
        error = null;
        return true;
    }

    /// <summary>The bytes as printable ASCII with everything else escaped, for error messages.</summary>
    public static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length + 2);
        text.Append('"');
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\')
            {
                text.Append((char)b);
            }
            else
            {
                text.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return text.Append('"').ToString();
    }
}
