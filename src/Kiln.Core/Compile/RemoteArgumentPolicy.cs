namespace Kiln.Core.Compile;

/// <summary>
/// What a node refuses in the arguments a client asks it to run: anything that loads code, runs
/// another program, or reads or writes a path the node chose not to give the job. The message names
/// the argument so the user can act on it. Options that take their value in the next argument
/// (<c>--param name=value</c>, <c>-D NAME</c>) are checked together with that value, so a value is
/// never mistaken for a file name.
/// </summary>
public static class RemoteArgumentPolicy
{
    /// <summary>Options whose separate value is harmless to the node (a name, a number, a target).</summary>
    private static readonly HashSet<string> s_harmlessValue = new(StringComparer.Ordinal)
    {
        "--param", "-target", "-arch", "-G", "-D", "-U", "-A", "-MT", "-MQ", "-x", "-u", "-e", "-z", "-l", "-L",
    };

    /// <summary>Options whose separate value goes to another tool; the value is checked as that tool's options.</summary>
    private static readonly HashSet<string> s_toolValue = new(StringComparer.Ordinal) { "-Xassembler", "-Xlinker", "-mllvm" };

    /// <summary>Returns null when the arguments are safe to run, else a message naming the first refused one.</summary>
    public static string? Check(IReadOnlyList<string> arguments)
    {
        for (var i = 0; i < arguments.Count; i++)
        {
            var a = arguments[i];
            var value = i + 1 < arguments.Count ? arguments[i + 1] : null;
            if (s_harmlessValue.Contains(a) && value is not null)
            {
                i++;
                continue;
            }

            if (s_toolValue.Contains(a) && value is not null)
            {
                var toolRefusal = a == "-mllvm" ? Refusal(value) : ToolOptionRefusal(value);
                if (toolRefusal is not null)
                {
                    return $"argument '{a} {value}' refused: {toolRefusal}";
                }

                i++;
                continue;
            }

            var refusal = Refusal(a);
            if (refusal is not null)
            {
                // A separate value belongs in the message: '-o /etc/x' says more than '-o'.
                var shown = a is "-o" or "-MF" or "--output" or "-aux-info" or "-dumpdir" or "-dumpbase" && value is not null ? a + " " + value : a;
                return $"argument '{shown}' refused: {OutputReason(a, value) ?? refusal}";
            }
        }

        return null;
    }

    /// <summary>For an output option whose path is absolute or climbs with '..', says so.</summary>
    private static string? OutputReason(string option, string? value)
    {
        var path = option switch
        {
            "-o" or "-MF" or "--output" => value,
            _ when option.StartsWith("--output=", StringComparison.Ordinal) => option["--output=".Length..],
            _ when option.StartsWith("-o", StringComparison.Ordinal) => option[2..],
            _ when option.StartsWith("-MF", StringComparison.Ordinal) => option[3..],
            _ => null,
        };
        if (path is null)
        {
            return null;
        }

        return path.StartsWith('/') || path == ".." || path.StartsWith("../", StringComparison.Ordinal) || path.Contains("/../", StringComparison.Ordinal)
            || path.EndsWith("/..", StringComparison.Ordinal)
            ? "the output path is outside the job's directory; the node names the outputs"
            : "the node names the outputs and hands them back";
    }

    /// <summary>Options for the assembler or linker (<c>-Wa,</c>, <c>-Xassembler</c>) that name files or read more options.</summary>
    private static string? ToolOptionRefusal(string options)
    {
        foreach (var part in options.Split(','))
        {
            if (part.StartsWith("-a", StringComparison.Ordinal) || part.StartsWith("--MD", StringComparison.Ordinal) || part.StartsWith("-o", StringComparison.Ordinal)
                || part.StartsWith("-I", StringComparison.Ordinal) || part.StartsWith('@') || part.Contains('/'))
            {
                return $"'{part}' makes the tool read or write a file of its choosing";
            }

            if (part.StartsWith("-load", StringComparison.Ordinal) || part.StartsWith("-plugin", StringComparison.Ordinal) || part.StartsWith("--plugin", StringComparison.Ordinal))
            {
                return $"'{part}' loads code into the tool";
            }
        }

        return null;
    }

    private static string? Refusal(string a)
    {
        if (a.Length == 0)
        {
            return null;
        }

        if (a[0] == '@')
        {
            return "response files are read from the node's disk";
        }

        if (a[0] != '-')
        {
            return "input and output files are named by the node, not the client";
        }

        if (a.StartsWith("-fplugin", StringComparison.Ordinal) || a.StartsWith("-iplugindir", StringComparison.Ordinal)
            || a.StartsWith("-fpass-plugin", StringComparison.Ordinal))
        {
            return "plugins load code into the compiler";
        }

        if (a.StartsWith("-specs", StringComparison.Ordinal) || a.StartsWith("--specs", StringComparison.Ordinal))
        {
            return "specs files can run other programs";
        }

        if (a.StartsWith("-B", StringComparison.Ordinal) || a == "-wrapper" || a.StartsWith("--wrapper", StringComparison.Ordinal)
            || a.StartsWith("-gcc-toolchain", StringComparison.Ordinal) || a.StartsWith("--gcc-toolchain", StringComparison.Ordinal)
            || a.StartsWith("-ccc-", StringComparison.Ordinal) || a.StartsWith("-fuse-ld", StringComparison.Ordinal)
            || a.StartsWith("--prefix", StringComparison.Ordinal))
        {
            return "it chooses which programs the compiler runs";
        }

        if (a == "-Xclang" || a.StartsWith("-load", StringComparison.Ordinal) || a == "-Xpreprocessor")
        {
            return "it passes options the node cannot check";
        }

        if (a.StartsWith("-Wa,", StringComparison.Ordinal) && ToolOptionRefusal(a[4..]) is { } assembler)
        {
            return assembler;
        }

        if (a is "-o" || a.StartsWith("-o", StringComparison.Ordinal) || a.StartsWith("--output", StringComparison.Ordinal) || a.StartsWith("-MF", StringComparison.Ordinal)
            || a.StartsWith("-dumpdir", StringComparison.Ordinal) || a.StartsWith("-dumpbase", StringComparison.Ordinal)
            || a.StartsWith("-aux-info", StringComparison.Ordinal) || a.StartsWith("-save-temps", StringComparison.Ordinal)
            || a.StartsWith("-fprofile", StringComparison.Ordinal) || a.StartsWith("-fdump-", StringComparison.Ordinal)
            || a.StartsWith("-fstack-usage", StringComparison.Ordinal) || a.StartsWith("-fcallgraph-info", StringComparison.Ordinal)
            || a.StartsWith("-ftest-coverage", StringComparison.Ordinal) || a == "--coverage"
            || a.StartsWith("-fsave-optimization-record", StringComparison.Ordinal) || a.StartsWith("-foptimization-record-file", StringComparison.Ordinal)
            || a.StartsWith("-fopt-info", StringComparison.Ordinal) && a.Contains('=') || a.StartsWith("-fcoverage-", StringComparison.Ordinal)
            || a.StartsWith("-ftime-trace", StringComparison.Ordinal) || a.StartsWith("-fcrash-diagnostics-dir", StringComparison.Ordinal))
        {
            return "it writes files the node does not hand back";
        }

        if (a.StartsWith("-I", StringComparison.Ordinal) || a.StartsWith("-include", StringComparison.Ordinal)
            || a.StartsWith("-imacros", StringComparison.Ordinal) || a.StartsWith("-isystem", StringComparison.Ordinal)
            || a.StartsWith("-iquote", StringComparison.Ordinal) || a.StartsWith("-idirafter", StringComparison.Ordinal)
            || a.StartsWith("-iprefix", StringComparison.Ordinal) || a.StartsWith("-iwithprefix", StringComparison.Ordinal)
            || a.StartsWith("-isysroot", StringComparison.Ordinal) || a.StartsWith("--sysroot", StringComparison.Ordinal)
            || a.StartsWith("-fmacro-prefix-map", StringComparison.Ordinal) || a.StartsWith("-ffile-prefix-map", StringComparison.Ordinal)
            || a.StartsWith("-fdebug-prefix-map", StringComparison.Ordinal) || a.StartsWith("-fsanitize-blacklist", StringComparison.Ordinal)
            || a.StartsWith("-fsanitize-ignorelist", StringComparison.Ordinal) || a.StartsWith("-fprofile-list", StringComparison.Ordinal))
        {
            return "it names paths on the node's disk; preprocessing happens on the client";
        }

        if (a is "-E" or "-M" or "-MM")
        {
            return "a node compiles; it does not preprocess for the client";
        }

        return null;
    }
}
