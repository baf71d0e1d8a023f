namespace Kiln.Core.Trust;

/// <summary>
/// A named trust policy as a text file: a line <c>k N</c> (how many distinct owners must agree) and
/// the trusted keys as <see cref="TrustStore"/> lines (<c>OWNER ed25519:BASE64 STATUS</c>). Lines
/// starting with <c>#</c> are comments.
/// </summary>
public static class PolicyFile
{
    /// <summary>Reads a policy; lines that do not parse are reported in <paramref name="errors"/> and skipped.</summary>
    public static TrustPolicy Parse(string text, List<string> errors)
    {
        var k = 1;
        var keyLines = new System.Text.StringBuilder();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.StartsWith("k ", StringComparison.Ordinal) || line == "k")
            {
                if (!int.TryParse(line.AsSpan(1).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out k))
                {
                    errors.Add($"line {number}: expected 'k N' with N a count of owners (0 or more)");
                    k = 1;
                }

                keyLines.Append('\n');
                continue;
            }

            keyLines.Append(line).Append('\n');
        }

        var store = TrustStore.Parse(keyLines.ToString(), errors);
        return new TrustPolicy(store, k);
    }

    /// <summary>Writes a policy in the form <see cref="Parse"/> reads.</summary>
    public static string Serialize(TrustPolicy policy) => $"k {policy.K}\n" + policy.Keys.Serialize();
}
