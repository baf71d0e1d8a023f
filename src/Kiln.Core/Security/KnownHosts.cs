namespace Kiln.Core.Security;

/// <summary>
/// The client's record of node certificates it has seen (<c>KILN_DIR/known_hosts</c>), as OpenSSH
/// keeps host keys: one line per node, <c>HOST:PORT SHA256HEX</c>. A node met for the first time is
/// trusted and written down (trust on first use); afterwards a different certificate is refused.
/// Lines are appended whole, so concurrent compiles of one build never corrupt the file; when two
/// lines name one node, the first wins.
/// </summary>
public sealed class KnownHosts(string path)
{
    /// <summary>The file's path.</summary>
    public string Path { get; } = path;

    /// <summary>The fingerprint recorded for <paramref name="node"/> (HOST:PORT), or null.</summary>
    public string? Lookup(string node)
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(Path))
        {
            var space = line.IndexOf(' ');
            if (space > 0 && line.AsSpan(0, space).SequenceEqual(node))
            {
                return line[(space + 1)..].Trim();
            }
        }

        return null;
    }

    /// <summary>Records <paramref name="fingerprint"/> for <paramref name="node"/>.</summary>
    public void Remember(string node, string fingerprint)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        var line = System.Text.Encoding.UTF8.GetBytes($"{node} {fingerprint}\n");
        file.Write(line);
    }
}
