using System.Text;

namespace Kiln.Core.Discovery;

/// <summary>TXT RDATA: character strings; DNS-SD reads them as <c>key=value</c> attributes (RFC 6763 §6).</summary>
public sealed record TxtData(IReadOnlyList<byte[]> Strings) : DnsRecordData
{
    /// <summary>TXT data from <c>key=value</c> strings, in order.</summary>
    public static TxtData FromAttributes(IEnumerable<KeyValuePair<string, string>> attributes) =>
        new([.. attributes.Select(a => Encoding.UTF8.GetBytes(a.Key + "=" + a.Value))]);

    /// <summary>
    /// The attributes: keys compared case-insensitively, the first occurrence wins, a key without
    /// '=' has an empty value (RFC 6763 §6.4). Empty strings are skipped.
    /// </summary>
    public IReadOnlyDictionary<string, string> Attributes()
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var s in Strings)
        {
            var text = Encoding.UTF8.GetString(s);
            var eq = text.IndexOf('=');
            var key = eq < 0 ? text : text[..eq];
            if (key.Length > 0)
            {
                result.TryAdd(key, eq < 0 ? "" : text[(eq + 1)..]);
            }
        }

        return result;
    }

    /// <inheritdoc />
    public bool Equals(TxtData? other) =>
        other is not null && Strings.Count == other.Strings.Count && Strings.Zip(other.Strings).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    /// <inheritdoc />
    public override int GetHashCode() => Strings.Count;
}
