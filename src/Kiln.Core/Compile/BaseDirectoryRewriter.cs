namespace Kiln.Core.Compile;

/// <summary>
/// KILN_BASEDIR (ccache's <c>base_dir</c>): absolute paths under the base directory in a compile's
/// arguments become paths relative to the working directory, and the compiler runs with the rewritten
/// arguments. The preprocessed text then names project files relatively (its line markers carry the
/// paths the compiler was given), so two checkouts of one project at different places produce the
/// same preprocessed input and the same ActionKey, and the outputs they share are the ones a compile
/// in either checkout produces. See docs/cache.md for what is and is not shared.
/// </summary>
public static class BaseDirectoryRewriter
{
    // Options whose value is attached and names a directory or file the preprocessor reads.
    private static readonly string[] s_attachedPathOptions = ["-I", "-iquote", "-isystem", "-idirafter"];

    // Options whose value follows and names an output or a make target: left as written, since a
    // make rule names them and rewriting them would change what make reads back.
    private static readonly HashSet<string> s_keptValues = new(StringComparer.Ordinal) { "-o", "-MF", "-MT", "-MQ" };

    /// <summary>
    /// The arguments with every absolute path under <paramref name="baseDirectory"/> made relative to
    /// <paramref name="workingDirectory"/>. Unchanged (the same list) when the base directory is empty
    /// or not absolute, or the working directory is not under it (as ccache, the rewrite only applies
    /// to compiles inside the tree it names).
    /// </summary>
    public static IReadOnlyList<string> Rewrite(IReadOnlyList<string> arguments, string? baseDirectory, string workingDirectory)
    {
        if (string.IsNullOrEmpty(baseDirectory) || !Path.IsPathRooted(baseDirectory) || !IsUnder(workingDirectory, baseDirectory))
        {
            return arguments;
        }

        var result = new List<string>(arguments.Count);
        var changed = false;
        for (var i = 0; i < arguments.Count; i++)
        {
            var a = arguments[i];
            if (s_keptValues.Contains(a) && i + 1 < arguments.Count)
            {
                result.Add(a);
                result.Add(arguments[++i]);
                continue;
            }

            var rewritten = RewriteOne(a, baseDirectory, workingDirectory);
            changed |= !ReferenceEquals(rewritten, a);
            result.Add(rewritten);
        }

        return changed ? result : arguments;
    }

    private static string RewriteOne(string argument, string baseDirectory, string workingDirectory)
    {
        if (argument.StartsWith('/'))
        {
            return IsUnder(argument, baseDirectory) ? Relative(argument, workingDirectory) : argument;
        }

        foreach (var option in s_attachedPathOptions)
        {
            if (argument.Length > option.Length && argument.StartsWith(option, StringComparison.Ordinal) && argument[option.Length] == '/')
            {
                var path = argument[option.Length..];
                return IsUnder(path, baseDirectory) ? option + Relative(path, workingDirectory) : argument;
            }
        }

        return argument;
    }

    private static string Relative(string path, string workingDirectory)
    {
        var relative = Path.GetRelativePath(workingDirectory, path);

        // A trailing slash says "directory" to the compiler in a few options; keep what was written.
        return path.EndsWith('/') && !relative.EndsWith('/') ? relative + "/" : relative;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="directory"/> or below it (by name, not following links).</summary>
    public static bool IsUnder(string path, string directory)
    {
        var d = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var p = Path.GetFullPath(path);
        return d == "/" || p == d || (p.StartsWith(d, StringComparison.Ordinal) && p.Length > d.Length && p[d.Length] == '/');
    }
}
