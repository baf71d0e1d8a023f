using System.Diagnostics.CodeAnalysis;

namespace Kiln.Core.Compile;

/// <summary>
/// What a compile needs from a node's compiler: its family (gcc or clang: the node runs the compiler
/// the client named, so both must be the same kind), the target triple it produces code for, and its
/// version. Nodes advertise one per compiler (<c>compilers=gcc:x86_64-linux-gnu:12,...</c>); a job
/// goes only to a node that lists the job's platform. Triples are compared without the vendor field
/// (<c>x86_64-pc-linux-gnu</c> and <c>x86_64-linux-gnu</c> are one target; clang and gcc spell them
/// differently).
/// </summary>
public sealed record CompilerPlatform(string Family, string Triple, string Version)
{
    /// <summary>The attribute (TXT key, WELCOME attribute) that lists a node's platforms.</summary>
    public const string AttributeName = "compilers";

    /// <summary>The family of a compiler from its file name: clang for clang, clang++ and TRIPLE-clang; gcc otherwise (gcc, g++, cc, c++).</summary>
    public static string FamilyOf(string compilerName) =>
        Path.GetFileName(compilerName).Contains("clang", StringComparison.Ordinal) ? "clang" : "gcc";

    /// <summary>A platform with its triple normalised (see <see cref="NormalizeTriple"/>).</summary>
    public static CompilerPlatform Of(string family, string triple, string version) => new(family, NormalizeTriple(triple), version.Trim());

    /// <summary>
    /// Drops the vendor field of a GNU triple when it is <c>pc</c> or <c>unknown</c>:
    /// <c>x86_64-pc-linux-gnu</c> → <c>x86_64-linux-gnu</c>, <c>aarch64-unknown-linux-gnu</c> → <c>aarch64-linux-gnu</c>.
    /// </summary>
    public static string NormalizeTriple(string triple)
    {
        var parts = triple.Trim().ToLowerInvariant().Split('-');
        return parts.Length >= 3 && parts[1] is "pc" or "unknown"
            ? string.Join('-', parts.Where((_, i) => i != 1))
            : string.Join('-', parts);
    }

    /// <summary>Parses <c>family:triple:version</c>.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out CompilerPlatform? platform)
    {
        var parts = text.Trim().Split(':');
        if (parts.Length == 3 && parts.All(p => p.Length > 0))
        {
            platform = Of(parts[0], parts[1], parts[2]);
            return true;
        }

        platform = null;
        return false;
    }

    /// <summary>Parses a comma-separated list, skipping words that do not parse.</summary>
    public static IReadOnlyList<CompilerPlatform> ParseList(string? text)
    {
        var list = new List<CompilerPlatform>();
        foreach (var word in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            if (TryParse(word, out var platform))
            {
                list.Add(platform);
            }
        }

        return list;
    }

    /// <summary><c>family:triple:version</c>.</summary>
    public override string ToString() => $"{Family}:{Triple}:{Version}";
}
