using System.Text;
using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// The parts of ccache's direct mode that do not touch the cache: the manifest key, and the files a
/// preprocessor run read, taken from the line markers of its output (every file the preprocessor
/// enters gets one, the source and each header, whatever include options found it).
/// </summary>
internal static class DirectMode
{
    /// <summary>The version tag of the manifest key's encoding.</summary>
    public const string EncodingTag = "kiln-manifest-v1";

    /// <summary>
    /// The environment variables that change what the preprocessor reads or expands; they are part
    /// of the manifest key.
    /// </summary>
    public static readonly string[] PreprocessorVariables = ["CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH", "SOURCE_DATE_EPOCH"];

    /// <summary>
    /// The manifest key: compiler identity, every argument as the compiler runs it (include options,
    /// macros, output and dependency-file names), the working directory (relative names and -g's
    /// recorded directory depend on it), the messages locale and the preprocessor's variables.
    /// </summary>
    public static ActionKey ManifestKey(CompilerIdentity compiler, IReadOnlyList<string> arguments, string workingDirectory,
        string messagesLocale, IReadOnlyDictionary<string, string> variables, string? baseDirectory = null)
    {
        var w = new CanonicalWriter(EncodingTag)
            .Digest(compiler.BinaryDigest)
            .String(compiler.Target)
            .String(compiler.Version)
            .Strings(arguments)
            .String(KeyedDirectory(arguments, workingDirectory, baseDirectory))
            .String(messagesLocale)
            .Int(PreprocessorVariables.Length);
        foreach (var name in PreprocessorVariables)
        {
            w.String(name).String(variables.TryGetValue(name, out var v) ? v : "\0");
        }

        return ActionKey.FromEncoding(w.ToArray());
    }

    /// <summary>
    /// The working directory as the manifest key records it: under KILN_BASEDIR, for a compile whose
    /// output does not record its directory, not at all (as ccache keys direct mode under base_dir),
    /// so two checkouts share manifests; otherwise the absolute path.
    /// Debug information (-g…), coverage and profiling, and prefix maps name the directory in the
    /// object, so those compiles keep it.
    /// </summary>
    public static string KeyedDirectory(IReadOnlyList<string> arguments, string workingDirectory, string? baseDirectory)
    {
        if (string.IsNullOrEmpty(baseDirectory) || !Path.IsPathRooted(baseDirectory) || !BaseDirectoryRewriter.IsUnder(workingDirectory, baseDirectory))
        {
            return workingDirectory;
        }

        foreach (var a in arguments)
        {
            if ((a.StartsWith("-g", StringComparison.Ordinal) && a != "-g0") || a == "--coverage" || a.StartsWith("-fprofile", StringComparison.Ordinal)
                || a == "-ftest-coverage" || a.StartsWith("-fdebug-prefix-map", StringComparison.Ordinal)
                || a.StartsWith("-ffile-prefix-map", StringComparison.Ordinal) || a.StartsWith("-fworking-directory", StringComparison.Ordinal))
            {
                return workingDirectory;
            }
        }

        // Not even relative to the base: checkouts side by side (base/a, base/b) must meet. Relative
        // names in an entry resolve against the directory of the compile that reads it, and every
        // file is checked there, so two directories sharing the key cannot take each other's result.
        return "under KILN_BASEDIR";
    }

    /// <summary>
    /// The distinct files named by the line markers (<c># N "path" flags</c>) of preprocessed output,
    /// in order of first mention; pseudo-files (&lt;built-in&gt;, &lt;command-line&gt;) and the working
    /// directory marker <c>"dir//"</c> are left out.
    /// </summary>
    public static List<string> IncludedFiles(ReadOnlySpan<byte> preprocessed)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var files = new List<string>();
        var position = 0;
        while (position < preprocessed.Length)
        {
            var end = preprocessed[position..].IndexOf((byte)'\n');
            var line = end < 0 ? preprocessed[position..] : preprocessed.Slice(position, end);
            position = end < 0 ? preprocessed.Length : position + end + 1;
            if (line.Length < 5 || line[0] != (byte)'#' || line[1] != (byte)' ' || !char.IsAsciiDigit((char)line[2]))
            {
                continue;
            }

            var quote = line.IndexOf((byte)'"');
            if (quote < 0 || ParseQuoted(line[(quote + 1)..]) is not { } path)
            {
                continue;
            }

            if (path.Length == 0 || path[0] == '<' || path.EndsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            if (seen.Add(path))
            {
                files.Add(path);
            }
        }

        return files;
    }

    /// <summary>
    /// True when the text uses a macro whose value is the time of the compile: a direct-mode hit
    /// would hand back an old time, so such compiles record no manifest (as ccache).
    /// </summary>
    public static bool UsesTimeMacros(ReadOnlySpan<byte> text) =>
        text.IndexOf("__DATE__"u8) >= 0 || text.IndexOf("__TIME__"u8) >= 0 || text.IndexOf("__TIMESTAMP__"u8) >= 0;

    /// <summary>The text of a quoted line-marker path up to its closing quote, with gcc's escapes undone.</summary>
    private static string? ParseQuoted(ReadOnlySpan<byte> rest)
    {
        var bytes = new List<byte>(rest.Length);
        for (var i = 0; i < rest.Length; i++)
        {
            var b = rest[i];
            if (b == (byte)'"')
            {
                return Encoding.UTF8.GetString(bytes.ToArray());
            }

            if (b == (byte)'\\' && i + 1 < rest.Length)
            {
                var next = rest[i + 1];
                if (next is >= (byte)'0' and <= (byte)'7' && i + 3 < rest.Length)
                {
                    bytes.Add((byte)(((next - '0') << 6) | ((rest[i + 2] - '0') << 3) | (rest[i + 3] - '0')));
                    i += 3;
                    continue;
                }

                bytes.Add(next);
                i++;
                continue;
            }

            bytes.Add(b);
        }

        return null;
    }
}
