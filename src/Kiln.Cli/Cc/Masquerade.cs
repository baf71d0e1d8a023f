namespace Kiln.Cli.Cc;

/// <summary>
/// Masquerade mode: a directory of symlinks named like compilers that point at <c>kiln</c>. A
/// symlink's name is the compiler to run; the real compiler is the next one of that name on PATH
/// that is not Kiln itself, so the wrapper never calls itself.
/// </summary>
internal static class Masquerade
{
    private static readonly HashSet<string> s_names = new(StringComparer.Ordinal)
    {
        "gcc", "cc", "g++", "c++", "clang", "clang++",
    };

    /// <summary>True when kiln was started through a symlink named like a compiler.</summary>
    public static bool IsCompilerName(string invokedAs) =>
        s_names.Contains(invokedAs)
        || (invokedAs.EndsWith("-gcc", StringComparison.Ordinal) || invokedAs.EndsWith("-g++", StringComparison.Ordinal))
        || invokedAs.StartsWith("gcc-", StringComparison.Ordinal) || invokedAs.StartsWith("g++-", StringComparison.Ordinal);

    /// <summary>
    /// Finds <paramref name="name"/> on PATH, skipping every entry that resolves to this program.
    /// Returns null when no real compiler of that name exists.
    /// </summary>
    public static string? FindRealCompiler(string name)
    {
        if (name.Contains('/'))
        {
            return File.Exists(name) && !IsKiln(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && !IsKiln(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool IsKiln(string candidate)
    {
        var self = Environment.ProcessPath;
        if (self is null)
        {
            return false;
        }

        try
        {
            var resolved = new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(candidate);
            return string.Equals(resolved, Path.GetFullPath(self), StringComparison.Ordinal)
                || string.Equals(Path.GetFileName(resolved), "kiln", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
