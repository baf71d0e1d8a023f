using System.Globalization;
using Kiln.Cli.Cc;

namespace Kiln.Cli.Explain;

/// <summary><c>kiln explain</c>: for recent compiles, why each ran where it did (from KILN_DIR/decisions.log).</summary>
internal static class ExplainCommand
{
    private const string Help = """
        kiln explain [--count N] [SOURCE...]

        For the last N compiles (default 20) of 'kiln cc' with this KILN_DIR, or the last compile of
        each SOURCE named, says why it ran where it did: not distributable (and which option), a
        local slot, which node, why no node could take it (none listed for it, backed off, busy,
        refused, failed), or a cache hit from which node.

        """;

    public static int Run(string[] args, Func<string, string?> variable, TextWriter output, TextWriter error)
    {
        var count = 20;
        var sources = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    output.Write(Help);
                    return 0;
                case "--count" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    count = n;
                    i++;
                    break;
                default:
                    if (args[i].StartsWith('-'))
                    {
                        error.WriteLine($"kiln explain: bad option '{args[i]}'. Run 'kiln explain --help'.");
                        return 2;
                    }

                    sources.Add(args[i]);
                    break;
            }
        }

        var directory = CcSettings.StateDirectoryFrom(variable);
        var path = Path.Combine(directory, DecisionLog.FileName);
        var lines = new List<string>();
        foreach (var file in new[] { path + ".1", path })
        {
            if (File.Exists(file))
            {
                lines.AddRange(File.ReadAllLines(file));
            }
        }

        var chosen = new List<string[]>();
        for (var i = lines.Count - 1; i >= 0 && chosen.Count < (sources.Count > 0 ? sources.Count : count); i--)
        {
            var fields = lines[i].Split('\t');
            if (fields.Length < 7)
            {
                continue;
            }

            if (sources.Count > 0)
            {
                var wanted = sources.Find(s => fields[3] == s || fields[3].EndsWith("/" + s, StringComparison.Ordinal));
                if (wanted is null || chosen.Exists(c => c[3] == fields[3]))
                {
                    continue;
                }
            }

            chosen.Add(fields);
        }

        if (chosen.Count == 0)
        {
            output.WriteLine(sources.Count > 0
                ? $"kiln explain: no compile of {string.Join(", ", sources)} in {path}"
                : $"kiln explain: no compiles recorded in {path} yet");
            return sources.Count > 0 ? 1 : 0;
        }

        chosen.Reverse();
        foreach (var f in chosen)
        {
            var time = long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms).ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture)
                : "?";
            output.WriteLine($"{time}  {f[3]}: {Sentence(f[4], f[5], f[6])}");
        }

        return 0;
    }

    /// <summary>One decision in words.</summary>
    internal static string Sentence(string where, string decision, string detail) => decision switch
    {
        "not-distributable" => $"compiled here: not distributable ({detail})",
        "local-slot" => $"compiled here: {detail}",
        "remote" => $"compiled on {where}: {detail}",
        "remote-error-rerun" => $"compile failed on the node and ran here: {detail}",
        "hit" => $"cache hit from {where} ({detail})",
        "fallback" => $"compiled here because no node could take it: {detail}",
        "not-compiled" => $"not compiled: no node could take it ({detail}) and KILN_FALLBACK=0",
        "preprocess-failed" => $"stopped here: preprocessing failed ({detail})",
        _ => $"{decision} on {where}: {detail}",
    };
}
