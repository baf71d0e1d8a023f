namespace Kiln.Server.Compile;

/// <summary>
/// The fake root of a pump-mode job: a directory that stands for the client's <c>/</c>. It recreates
/// the client's files and links under itself and refuses any entry that would land, or point,
/// outside it: names with <c>.</c> or <c>..</c> components, names that pass through a link, duplicate
/// names, and links that resolve outside the root other than into the node's own system header
/// directories (the include server links system directories that way, as distccd expects).
/// </summary>
public sealed class PumpRoot
{
    /// <summary>
    /// Where a link may resolve outside the root: the compiler's own header directories, which every
    /// compile on the node may read anyway. distcc's include server points links at them with
    /// relative targets that climb above the root.
    /// </summary>
    private static readonly string[] s_systemHeaderRoots =
        ["/usr/include", "/usr/local/include", "/usr/lib/gcc", "/usr/lib/clang", "/usr/lib/llvm-"];

    private const int MaxLinkHops = 40;
    private readonly List<string> _links = [];
    private readonly string _realRoot;

    /// <summary>Creates the root directory at <paramref name="path"/>.</summary>
    public PumpRoot(string path)
    {
        Path = path;
        Directory.CreateDirectory(path);
        _realRoot = Resolve(path) ?? path;
    }

    /// <summary>The root on the node's disk (no trailing slash).</summary>
    public string Path { get; }

    /// <summary>The node path for a client absolute path (only call with names <see cref="CheckName"/> accepted).</summary>
    public string Map(string clientPath) => Path + "/" + clientPath.TrimStart('/');

    /// <summary>Null when a client path is absolute and has no <c>.</c> or <c>..</c> components; else why not.</summary>
    public static string? CheckName(string clientPath)
    {
        if (clientPath.Length == 0 || clientPath[0] != '/')
        {
            return $"'{clientPath}' is not an absolute path";
        }

        foreach (var part in clientPath.Split('/'))
        {
            if (part is "." or "..")
            {
                return $"'{clientPath}' has a '{part}' component and could escape the job's root";
            }
        }

        return null;
    }

    /// <summary>Creates the directory for a client path (the working directory), or returns why not.</summary>
    public string? CreateDirectory(string clientPath)
    {
        return CheckName(clientPath) ?? CreateDirectories(Map(clientPath));
    }

    /// <summary>Writes one file or link, or returns why it is refused.</summary>
    public string? Add(PumpFile file)
    {
        var refusal = CheckName(file.Name);
        if (refusal is not null)
        {
            return "NAME " + refusal;
        }

        var path = Map(file.Name).TrimEnd('/');
        refusal = CreateDirectories(System.IO.Path.GetDirectoryName(path)!);
        if (refusal is not null)
        {
            return refusal;
        }

        try
        {
            if (file.LinkTarget is { } target)
            {
                if (target.Length == 0 || target.Contains('\0'))
                {
                    return $"LINK for '{file.Name}' is empty";
                }

                if (target[0] == '/')
                {
                    // As distccd does: an absolute target names a client path, so it lives under the root.
                    var check = CheckName(target);
                    if (check is not null)
                    {
                        return $"LINK target {check}";
                    }

                    target = Map(target);
                }

                File.CreateSymbolicLink(path, target);
                _links.Add(file.Name);
                return null;
            }

            // CreateNew is O_EXCL: it never follows a link planted at this name.
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            stream.Write(file.Content);
            return null;
        }
        catch (IOException e)
        {
            return $"'{file.Name}' could not be created ({e.Message}); names must be unique";
        }
    }

    /// <summary>
    /// After every file is in place: each link must resolve inside the root, into the node's system
    /// header directories, or nowhere (a dangling link reads nothing). Returns why not, or null.
    /// </summary>
    public string? CheckLinks()
    {
        foreach (var name in _links)
        {
            var real = Resolve(Map(name));
            if (real is null || IsUnder(real, _realRoot))
            {
                continue;
            }

            var allowed = false;
            foreach (var root in s_systemHeaderRoots)
            {
                if (root.EndsWith('-') ? real.StartsWith(root, StringComparison.Ordinal) : IsUnder(real, root))
                {
                    allowed = true;
                    break;
                }
            }

            if (!allowed)
            {
                return $"LINK '{name}' resolves to '{real}', outside the job's root and the node's system header directories";
            }
        }

        return null;
    }

    /// <summary>Removes the root's own prefix from text the compiler wrote (messages, dependency files).</summary>
    public string ToClientPaths(string text) => text.Replace(Path, "", StringComparison.Ordinal);

    private string? CreateDirectories(string directory)
    {
        if (!IsUnder(directory, Path))
        {
            return $"'{directory}' is outside the job's root";
        }

        var current = Path;
        foreach (var part in directory[Path.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current + "/" + part;
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
            {
                return $"'{current[Path.Length..]}' is a link; no file may be written through it";
            }

            if (!info.Exists)
            {
                if (File.Exists(current))
                {
                    return $"'{current[Path.Length..]}' is a file and a directory";
                }

                Directory.CreateDirectory(current);
            }
        }

        return null;
    }

    private static bool IsUnder(string path, string root) =>
        path == root || (path.StartsWith(root, StringComparison.Ordinal) && path.Length > root.Length && path[root.Length] == '/');

    /// <summary>
    /// The canonical path the kernel opens for <paramref name="path"/>, following every link in every
    /// component (as realpath(3) does), or null when it does not exist or loops.
    /// </summary>
    internal static string? Resolve(string path)
    {
        var pending = new Stack<string>();
        PushComponents(pending, path);
        var current = "";
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                var slash = current.LastIndexOf('/');
                current = slash <= 0 ? "" : current[..slash];
                continue;
            }

            var next = current + "/" + part;
            var target = new FileInfo(next).LinkTarget;
            if (target is not null)
            {
                if (++hops > MaxLinkHops)
                {
                    return null;
                }

                if (target.StartsWith('/'))
                {
                    current = "";
                }

                PushComponents(pending, target);
                continue;
            }

            if (!File.Exists(next) && !Directory.Exists(next))
            {
                return null;
            }

            current = next;
        }

        return current.Length == 0 ? "/" : current;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var parts = path.Split('/');
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }
}
