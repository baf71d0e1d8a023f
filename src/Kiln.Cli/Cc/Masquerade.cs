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

    /// <summary>
    /// The file name this process was started as (argv[0]). The Native AOT program has argv[0] itself
    /// in <see cref="Environment.GetCommandLineArgs"/>. A JIT build's apphost reports the managed
    /// assembly's path there, not the symlink it was started through, so that build reads the kernel's
    /// copy of argv instead.
    /// </summary>
    public static string InvokedName()
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported)
        {
            return Path.GetFileName(Environment.GetCommandLineArgs()[0]);
        }

        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            var end = Array.IndexOf(cmdline, (byte)0);
            if (end > 0)
            {
                return Path.GetFileName(System.Text.Encoding.UTF8.GetString(cmdline, 0, end));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return Path.GetFileName(Environment.GetCommandLineArgs()[0]);
    }

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

    /// <summary>The names <c>kiln masquerade</c> links.</summary>
    public static readonly string[] LinkNames = ["gcc", "cc", "g++", "c++", "clang", "clang++"];

    /// <summary>
    /// Creates a symlink for each of <see cref="LinkNames"/> in <paramref name="directory"/> pointing
    /// at <paramref name="kiln"/>. Idempotent: a link that already points there is left alone; a file
    /// of that name that is something else is left alone too, and reported. Returns one line per name.
    /// </summary>
    public static List<string> CreateLinks(string directory, string kiln, out bool allDone)
    {
        var lines = new List<string>(LinkNames.Length);
        allDone = true;
        Directory.CreateDirectory(directory);
        foreach (var name in LinkNames)
        {
            var link = Path.Combine(directory, name);
            var existing = new FileInfo(link);
            if (existing.LinkTarget is { } target)
            {
                var resolved = Path.GetFullPath(target, directory);
                if (string.Equals(resolved, kiln, StringComparison.Ordinal))
                {
                    lines.Add($"{link} -> {kiln} (already there)");
                    continue;
                }

                if (IsKiln(link))
                {
                    // A link to another kiln binary (an older build): point it at this one.
                    File.Delete(link);
                    File.CreateSymbolicLink(link, kiln);
                    lines.Add($"{link} -> {kiln} (replaced the link to {target})");
                    continue;
                }
            }

            if (existing.Exists || existing.LinkTarget is not null)
            {
                lines.Add($"{link} exists and is not a link to kiln; left alone");
                allDone = false;
                continue;
            }

            File.CreateSymbolicLink(link, kiln);
            lines.Add($"{link} -> {kiln} (created)");
        }

        return lines;
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
