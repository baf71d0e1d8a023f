using System.Text;

namespace Kiln.Core.Discovery;

/// <summary>
/// Domain names as text: labels joined by '.', with '.' and '\' inside a label escaped by '\'
/// (DNS-SD instance names are free UTF-8 and may contain dots, RFC 6763 §4.3). Comparison is
/// ASCII case-insensitive, as DNS requires.
/// </summary>
public static class DnsName
{
    /// <summary>Most bytes in one label (RFC 1035 §2.3.4).</summary>
    public const int MaxLabelLength = 63;

    /// <summary>Most bytes in an encoded name, length bytes and the root included.</summary>
    public const int MaxEncodedLength = 255;

    /// <summary>Compares names as DNS does.</summary>
    public static bool Equal(string a, string b) => string.Equals(TrimRoot(a), TrimRoot(b), StringComparison.OrdinalIgnoreCase);

    /// <summary>The key a name is found under in dictionaries (lower case, no trailing dot).</summary>
    public static string Key(string name) => TrimRoot(name).ToLowerInvariant();

    /// <summary>Escapes one label for use in a name.</summary>
    public static string EscapeLabel(string label) => label.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(".", "\\.", StringComparison.Ordinal);

    /// <summary>Joins an instance label to a domain: <c>Join("my node", "_kiln._tcp.local")</c>.</summary>
    public static string Join(string label, string domain) => EscapeLabel(label) + "." + domain;

    /// <summary>The labels of a name, unescaped, as UTF-8 bytes. Null when a label is empty or too long, or the name too long.</summary>
    public static List<byte[]>? Labels(string name)
    {
        var labels = new List<byte[]>();
        var current = new StringBuilder();
        var total = 1;
        name = TrimRoot(name);
        if (name.Length == 0)
        {
            return labels;
        }

        for (var i = 0; i <= name.Length; i++)
        {
            if (i == name.Length || name[i] == '.')
            {
                var bytes = Encoding.UTF8.GetBytes(current.ToString());
                if (bytes.Length is 0 or > MaxLabelLength)
                {
                    return null;
                }

                total += bytes.Length + 1;
                labels.Add(bytes);
                current.Clear();
            }
            else if (name[i] == '\\' && i + 1 < name.Length)
            {
                current.Append(name[++i]);
            }
            else
            {
                current.Append(name[i]);
            }
        }

        return total <= MaxEncodedLength ? labels : null;
    }

    /// <summary>The first label of a name, unescaped (an instance name's readable part).</summary>
    public static string FirstLabel(string name)
    {
        var labels = Labels(name);
        return labels is { Count: > 0 } ? Encoding.UTF8.GetString(labels[0]) : "";
    }

    private static string TrimRoot(string name) =>
        name.EndsWith('.') && !name.EndsWith("\\.", StringComparison.Ordinal) ? name[..^1] : name;
}
