namespace Kiln.Core.Compile;

/// <summary>
/// What a node refuses in the arguments a client asks it to run: anything that loads code, runs
/// another program, or reads or writes a path the node chose not to give the job. The message names
/// the argument so the user can act on it.
/// </summary>
public static class RemoteArgumentPolicy
{
    /// <summary>Returns null when the arguments are safe to run, else a message naming the first refused one.</summary>
    public static string? Check(IReadOnlyList<string> arguments)
    {
        for (var i = 0; i < arguments.Count; i++)
        {
            var a = arguments[i];
            var refusal = Refusal(a);
            if (refusal is not null)
            {
                return $"argument '{a}' refused: {refusal}";
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

        if (a.StartsWith("-fplugin", StringComparison.Ordinal))
        {
            return "plugins load code into the compiler";
        }

        if (a.StartsWith("-specs", StringComparison.Ordinal) || a.StartsWith("--specs", StringComparison.Ordinal))
        {
            return "specs files can run other programs";
        }

        if (a.StartsWith("-B", StringComparison.Ordinal) || a == "-wrapper" || a.StartsWith("--wrapper", StringComparison.Ordinal))
        {
            return "it chooses which programs the compiler runs";
        }

        if (a == "-Xclang" || a.StartsWith("-load", StringComparison.Ordinal))
        {
            return "it passes options the node cannot check";
        }

        if (a is "-o" || a.StartsWith("-o", StringComparison.Ordinal) || a.StartsWith("-MF", StringComparison.Ordinal)
            || a.StartsWith("-dumpdir", StringComparison.Ordinal) || a.StartsWith("-dumpbase", StringComparison.Ordinal)
            || a.StartsWith("-aux-info", StringComparison.Ordinal) || a.StartsWith("-save-temps", StringComparison.Ordinal)
            || a.StartsWith("-fprofile", StringComparison.Ordinal) || a.StartsWith("-fdump-", StringComparison.Ordinal)
            || a.StartsWith("-fstack-usage", StringComparison.Ordinal) || a.StartsWith("-fcallgraph-info", StringComparison.Ordinal)
            || a.StartsWith("-ftest-coverage", StringComparison.Ordinal) || a == "--coverage")
        {
            return "it writes files the node does not hand back";
        }

        if (a.StartsWith("-I", StringComparison.Ordinal) || a.StartsWith("-include", StringComparison.Ordinal)
            || a.StartsWith("-imacros", StringComparison.Ordinal) || a.StartsWith("-isystem", StringComparison.Ordinal)
            || a.StartsWith("-iquote", StringComparison.Ordinal) || a.StartsWith("-idirafter", StringComparison.Ordinal)
            || a.StartsWith("-iprefix", StringComparison.Ordinal) || a.StartsWith("-iwithprefix", StringComparison.Ordinal)
            || a.StartsWith("-isysroot", StringComparison.Ordinal) || a.StartsWith("--sysroot", StringComparison.Ordinal)
            || a.StartsWith("-fmacro-prefix-map", StringComparison.Ordinal) || a.StartsWith("-ffile-prefix-map", StringComparison.Ordinal)
            || a.StartsWith("-fdebug-prefix-map", StringComparison.Ordinal))
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
