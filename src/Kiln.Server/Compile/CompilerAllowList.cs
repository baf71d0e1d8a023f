using System.Text.RegularExpressions;

namespace Kiln.Server.Compile;

/// <summary>
/// The compilers a node runs. A client names a compiler (gcc, g++, x86_64-linux-gnu-gcc-12, clang…);
/// the node runs it only when the name matches the allow-list and resolves to an executable in the
/// node's own search directories. A client never supplies a path.
/// </summary>
public sealed partial class CompilerAllowList
{
    private readonly string[] _searchDirectories;
    private readonly HashSet<string> _extraNames;
    private readonly Dictionary<string, string?> _resolved = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Creates an allow-list searching <paramref name="searchDirectories"/> for compilers.</summary>
    public CompilerAllowList(IEnumerable<string>? searchDirectories = null, IEnumerable<string>? extraNames = null)
    {
        _searchDirectories = (searchDirectories ?? ["/usr/local/bin", "/usr/bin"]).ToArray();
        _extraNames = new HashSet<string>(extraNames ?? [], StringComparer.Ordinal);
    }

    // gcc, g++, cc, c++, clang, clang++, optionally prefixed by a GNU triple and suffixed by a version,
    // as distcc 3.4's client rewrites gcc to x86_64-linux-gnu-gcc and Debian installs gcc-12.
    [GeneratedRegex(@"^([a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(-[a-z0-9_]+)?-)?(gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(-[0-9]+(\.[0-9]+)*)?$")]
    private static partial Regex CompilerName();

    /// <summary>True when the name is a compiler name this node may run.</summary>
    public bool IsAllowedName(string name) =>
        name.Length is > 0 and < 128 && (CompilerName().IsMatch(name) || _extraNames.Contains(name));

    /// <summary>
    /// Resolves an allowed compiler name to the executable to run, or returns null with a reason.
    /// distcc clients may send "/usr/bin/gcc"; that one spelling is accepted as the bare name.
    /// </summary>
    public string? Resolve(string requested, out string? reason)
    {
        var name = requested;
        if (name.StartsWith("/usr/bin/", StringComparison.Ordinal) || name.StartsWith("/bin/", StringComparison.Ordinal))
        {
            name = Path.GetFileName(name);
        }

        if (name.Contains('/') || !IsAllowedName(name))
        {
            reason = $"compiler '{requested}' is not on this node's allow-list (allowed: gcc, g++, cc, c++, clang, clang++, "
                + "optionally with a target prefix and version suffix)";
            return null;
        }

        lock (_lock)
        {
            if (!_resolved.TryGetValue(name, out var path))
            {
                path = null;
                foreach (var dir in _searchDirectories)
                {
                    var candidate = Path.Combine(dir, name);
                    if (File.Exists(candidate))
                    {
                        path = candidate;
                        break;
                    }
                }

                _resolved[name] = path;
            }

            reason = path is null ? $"compiler '{name}' is not installed on this node (searched {string.Join(", ", _searchDirectories)})" : null;
            return path;
        }
    }
}
