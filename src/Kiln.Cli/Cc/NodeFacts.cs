using System.Globalization;
using Kiln.Core.Compile;
using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// What this user's compiles know about one node, shared through a file under KILN_DIR/nodes: its
/// attributes (compilers, targets, tags: from WELCOME, a TXT record or a seed) and its free slots as
/// last seen. Every compile that connects afresh rewrites the file from the node's WELCOME, so the
/// free-slot figure the next compile chooses by is at most a compile old.
/// </summary>
internal sealed class NodeFacts
{
    private NodeFacts(IReadOnlyDictionary<string, string> attributes, DateTime time)
    {
        Attributes = attributes;
        Time = time;
    }

    /// <summary>The node's attributes (<c>compilers</c>, <c>targets</c>, <c>slots</c>, <c>free</c>, tags...).</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; }

    /// <summary>When they were learned.</summary>
    public DateTime Time { get; }

    /// <summary>Free slots as last seen, or null.</summary>
    public int? Free => Attributes.TryGetValue("free", out var f) && int.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>Compile slots as last seen, or null.</summary>
    public int? Slots => Attributes.TryGetValue("slots", out var s) && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>
    /// The share of its slots the node had free when last seen (0 to 1), or null when either figure is
    /// unknown. Comparing shares rather than counts spreads jobs in proportion to slots: a 1-slot node
    /// with its slot free is as good a choice as an 8-slot node with all eight free.
    /// </summary>
    public double? FreeShare => Free is { } free && Slots is { } slots && slots > 0 ? Math.Clamp(free / (double)slots, 0, 1) : null;

    /// <summary>
    /// False when the node said it keeps no manifests, so remote direct mode has nothing to ask it
    /// (<c>cache=0</c>: a Kiln node started with <c>--result-cache off</c>); true when it did not say.
    /// </summary>
    public bool KeepsManifests => !(Attributes.TryGetValue(CacheAttribute, out var cache) && cache == "0");

    /// <summary>
    /// True when the node said it takes JOB ahead of its input (<c>ahead=1</c>), so a compile may send
    /// its JOB before it preprocesses, before that connection's WELCOME.
    /// </summary>
    public bool TakesJobsAhead => Attributes.TryGetValue("ahead", out var ahead) && ahead == "1";

    /// <summary>The attribute that says whether a node has a result cache (and manifests): <c>1</c> or <c>0</c>.</summary>
    public const string CacheAttribute = "cache";

    /// <summary>The file of one host's facts.</summary>
    public static string PathFor(string stateDirectory, HostSpec host) =>
        Path.Combine(stateDirectory, "nodes", (host.Protocol == HostProtocol.Distcc ? "distcc_" : "kiln_") + host.Host.Replace('/', '_').Replace(':', '_')
            + "_" + host.EffectivePort.ToString(CultureInfo.InvariantCulture));

    /// <summary>The facts of <paramref name="host"/> if learned less than <paramref name="maxAge"/> ago.</summary>
    public static NodeFacts? Read(string stateDirectory, HostSpec host, TimeSpan maxAge)
    {
        var path = PathFor(stateDirectory, host);
        try
        {
            var time = File.GetLastWriteTimeUtc(path);
            if (DateTime.UtcNow - time > maxAge)
            {
                return null;
            }

            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in File.ReadAllLines(path))
            {
                var eq = line.IndexOf('=');
                if (eq > 0)
                {
                    attributes[line[..eq]] = line[(eq + 1)..];
                }
            }

            return new NodeFacts(attributes, time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes a host's facts (atomically: readers see the old file or the new one).</summary>
    public static void Write(string stateDirectory, HostSpec host, IEnumerable<KeyValuePair<string, string>> attributes)
    {
        var path = PathFor(stateDirectory, host);
        try
        {
            var builder = new System.Text.StringBuilder();
            foreach (var (key, value) in attributes)
            {
                if (key.Length > 0 && !key.Contains('\n') && !value.Contains('\n'))
                {
                    builder.Append(key).Append('=').Append(value).Append('\n');
                }
            }

            var text = builder.ToString();
            if (SameText(path, text))
            {
                // Unchanged, as between most compiles of a build: the facts are only confirmed, so the
                // file's time moves on (readers judge freshness by it) without a new file and a rename.
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
                return;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = path + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
            File.WriteAllText(temporary, text);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Facts are an optimisation: the next compile learns them again.
        }
    }

    /// <summary>True when the file at <paramref name="path"/> holds exactly <paramref name="text"/> (ASCII facts; one open and read).</summary>
    private static bool SameText(string path, string text)
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            Span<byte> buffer = stackalloc byte[4096];
            var length = RandomAccess.Read(file, buffer, 0);
            if (length == buffer.Length || length != System.Text.Encoding.UTF8.GetByteCount(text))
            {
                return false;
            }

            Span<byte> expected = stackalloc byte[length];
            System.Text.Encoding.UTF8.GetBytes(text, expected);
            return buffer[..length].SequenceEqual(expected);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Attributes from <c>key=value</c> words (a WELCOME's).</summary>
    public static List<KeyValuePair<string, string>> FromWords(IEnumerable<string> words)
    {
        // A loop, not Where(..).Select(..): in the Native AOT program a Select on a Where is a generic
        // virtual call the runtime resolves by building the method at run time, 4% of a remote hit's CPU.
        var attributes = new List<KeyValuePair<string, string>>();
        foreach (var word in words)
        {
            var equals = word.IndexOf('=');
            if (equals > 0)
            {
                attributes.Add(new(word[..equals], word[(equals + 1)..]));
            }
        }

        return attributes;
    }

    /// <summary>
    /// The compilers the node runs: its <c>compilers</c> attribute, or for a stock distccd announced by
    /// DNS-SD its <c>cc_machine</c> and <c>cc_version</c> (distcc's gcc). Null when the facts do not say.
    /// </summary>
    public IReadOnlyList<CompilerPlatform>? Compilers()
    {
        if (Attributes.TryGetValue(CompilerPlatform.AttributeName, out var list))
        {
            return CompilerPlatform.ParseList(list);
        }

        return Attributes.TryGetValue("cc_machine", out var machine) && Attributes.TryGetValue("cc_version", out var version)
            ? [CompilerPlatform.Of("gcc", machine, version)]
            : null;
    }

    /// <summary>True when the node advertises every <c>KEY=VALUE</c> of <paramref name="tags"/> (a comma list attribute matches any of its items).</summary>
    public bool HasTags(IReadOnlyDictionary<string, string> tags)
    {
        foreach (var (key, value) in tags)
        {
            if (!Attributes.TryGetValue(key, out var advertised) || !advertised.Split(',').Contains(value, StringComparer.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
