using System.Globalization;

namespace Kiln.Cli.Serve;

/// <summary>Sizes on the command line: a number of bytes with an optional binary suffix (10G, 512M, 64KiB).</summary>
internal static class ByteSize
{
    /// <summary>Parses "123", "64K", "512M", "10G", "1T" (also "KiB", "MB"…: every suffix is a power of 1024).</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        var span = text.AsSpan().Trim();
        var digits = 0;
        while (digits < span.Length && char.IsAsciiDigit(span[digits]))
        {
            digits++;
        }

        if (digits == 0 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var shift = span[digits..].ToString().ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || number > long.MaxValue >> shift)
        {
            return false;
        }

        bytes = number << shift;
        return true;
    }
}
