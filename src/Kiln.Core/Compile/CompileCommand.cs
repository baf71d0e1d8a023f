namespace Kiln.Core.Compile;

/// <summary>
/// One compiler invocation, scanned the way distcc's <c>dcc_scan_args</c> scans it: whether it can run
/// remotely (one source compiled with <c>-c</c>, nothing that must run where the files are), and if so
/// its source, output, dependency-file options and the arguments a node needs.
/// </summary>
public sealed class CompileCommand
{
    private CompileCommand(string compiler, IReadOnlyList<string> arguments)
    {
        Compiler = compiler;
        Arguments = arguments;
    }

    /// <summary>The compiler as invoked (argv[0] of the compile, a name or a path).</summary>
    public string Compiler { get; }

    /// <summary>Every argument after the compiler, as given.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Null when the compile can run on a node; otherwise why it runs locally.</summary>
    public string? LocalReason { get; private set; }

    /// <summary>True when the compile can run on a node.</summary>
    public bool IsDistributable => LocalReason is null;

    /// <summary>Index in <see cref="Arguments"/> of the one source file.</summary>
    public int SourceIndex { get; private set; } = -1;

    /// <summary>The one source file, as given.</summary>
    public string Source => Arguments[SourceIndex];

    /// <summary>The language of the source (from <c>-x</c> or its extension).</summary>
    public SourceLanguage Language { get; private set; }

    /// <summary>The object file the compile writes (the <c>-o</c> value, or the default gcc derives).</summary>
    public string Output { get; private set; } = "";

    /// <summary>Index of the <c>-o</c> option, or -1 when the output name is derived.</summary>
    public int OutputOptionIndex { get; private set; } = -1;

    /// <summary>True when <c>-MD</c> or <c>-MMD</c> asks for a dependency file.</summary>
    public bool WritesDependencyFile { get; private set; }

    /// <summary>The dependency file named by <c>-MF</c>, or null.</summary>
    public string? DependencyFileOption { get; private set; }

    /// <summary>
    /// True when <c>-MT</c> or <c>-MQ</c> names the dependency target. gcc's driver adds its own
    /// <c>-MQ &lt;output&gt;</c> only when neither is given (spec <c>%{!MT:%{!MQ:%{MD|MMD:%{o*:-MQ %*}}}}</c>).
    /// </summary>
    public bool HasTargetOption { get; private set; }

    /// <summary>
    /// Options that take their value in the next argument. Knowing them keeps a value such as
    /// <c>-include foo.h</c>'s from being taken for a source file.
    /// </summary>
    private static readonly HashSet<string> s_separateValue = new(StringComparer.Ordinal)
    {
        "-o", "-x", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter", "-iprefix",
        "-iwithprefix", "-iwithprefixbefore", "-iquote", "-isysroot", "-imultilib", "--sysroot", "-MF", "-MT",
        "-MQ", "-L", "-l", "-Xpreprocessor", "-Xassembler", "-Xlinker", "-aux-info", "--param", "-A", "-u",
        "-T", "-z", "-e", "-dumpbase", "-dumpdir", "-dumpbase-ext", "-target", "-arch", "-B", "-wrapper",
        "-Xclang", "-gcc-toolchain", "-specs", "-G",
    };

    /// <summary>Options whose value, separate or joined, matters only to the preprocessor (distcc's strip list).</summary>
    private static readonly string[] s_preprocessorWithValue =
    [
        "-D", "-I", "-U", "-L", "-l", "-MF", "-MT", "-MQ", "-include", "-imacros", "-iprefix", "-iwithprefix",
        "-isystem", "-iwithprefixbefore", "-idirafter", "-iquote", "-isysroot", "-imultilib",
    ];

    /// <summary>Options that matter only to the preprocessor or the linker and take no value.</summary>
    private static readonly HashSet<string> s_preprocessorFlags = new(StringComparer.Ordinal)
    {
        "-undef", "-nostdinc", "-nostdinc++", "-MD", "-MMD", "-MG", "-MP", "-H", "-C", "-CC", "-P",
    };

    /// <summary>Scans a compile: <paramref name="compiler"/> is argv[0], <paramref name="arguments"/> the rest.</summary>
    public static CompileCommand Parse(string compiler, IReadOnlyList<string> arguments)
    {
        var command = new CompileCommand(compiler, arguments);
        command.Scan();
        return command;
    }

    private void Scan()
    {
        var compileOnly = false;
        string? language = null;
        var sourceCount = 0;
        for (var i = 0; i < Arguments.Count; i++)
        {
            var a = Arguments[i];
            if (a.Length > 1 && a[0] == '-')
            {
                var reason = LocalOnlyOption(a, i + 1 < Arguments.Count ? Arguments[i + 1] : null);
                if (reason is not null)
                {
                    Local(reason);
                }

                switch (a)
                {
                    case "-c":
                        compileOnly = true;
                        continue;
                    case "-o":
                        if (OutputOptionIndex >= 0)
                        {
                            Local("more than one -o");
                        }

                        OutputOptionIndex = i;
                        if (i + 1 >= Arguments.Count)
                        {
                            Local("-o without a file name");
                            return;
                        }

                        Output = Arguments[i + 1];
                        i++;
                        continue;
                    case "-x":
                        if (i + 1 < Arguments.Count)
                        {
                            language = Arguments[i + 1];
                        }

                        i++;
                        continue;
                    case "-MD" or "-MMD":
                        WritesDependencyFile = true;
                        continue;
                    case "-MF":
                        DependencyFileOption = i + 1 < Arguments.Count ? Arguments[i + 1] : null;
                        i++;
                        continue;
                    case "-MT" or "-MQ":
                        HasTargetOption = true;
                        i++;
                        continue;
                }

                if (a.StartsWith("-o", StringComparison.Ordinal))
                {
                    if (OutputOptionIndex >= 0)
                    {
                        Local("more than one -o");
                    }

                    OutputOptionIndex = i;
                    Output = a[2..];
                    continue;
                }

                if (a.StartsWith("-x", StringComparison.Ordinal))
                {
                    language = a[2..];
                    continue;
                }

                if (a.StartsWith("-MF", StringComparison.Ordinal))
                {
                    DependencyFileOption = a[3..];
                    continue;
                }

                if (a.StartsWith("-MT", StringComparison.Ordinal) || a.StartsWith("-MQ", StringComparison.Ordinal))
                {
                    HasTargetOption = true;
                    continue;
                }

                if (s_separateValue.Contains(a))
                {
                    i++;
                }

                continue;
            }

            if (a.Length > 0 && a[0] == '@')
            {
                Local($"response file {a} (its options are not visible to Kiln)");
                continue;
            }

            if (a == "-")
            {
                Local("source read from standard input");
                continue;
            }

            sourceCount++;
            if (sourceCount == 1)
            {
                SourceIndex = i;
            }
        }

        if (sourceCount == 0)
        {
            Local("no source file");
            return;
        }

        if (sourceCount > 1)
        {
            Local($"{sourceCount} input files (a remote compile takes one source)");
            return;
        }

        if (!compileOnly)
        {
            Local("not a compile-only (-c) invocation; linking runs locally");
        }

        Language = language is null ? SourceLanguages.FromFileName(Source) : SourceLanguages.FromXOption(language);
        if (Language == SourceLanguage.Unknown)
        {
            Local(language is null ? $"source {Source} is not C, C++ or Objective-C" : $"-x {language} is not distributable");
        }

        if (Output == "-")
        {
            Local("output to standard output (-o -)");
        }

        var sourceName = Path.GetFileName(Source);
        if (sourceName.StartsWith("conftest.", StringComparison.Ordinal) || sourceName.StartsWith("tmp.conftest.", StringComparison.Ordinal))
        {
            // configure's probes are small, serial and sometimes check for local effects.
            Local("autoconf probe (conftest.*)");
        }

        if (OutputOptionIndex < 0 && IsDistributable)
        {
            Output = Path.ChangeExtension(sourceName, ".o");
        }
    }

    private void Local(string reason) => LocalReason ??= reason;

    /// <summary>Why an option keeps a compile local, or null when it does not.</summary>
    private static string? LocalOnlyOption(string a, string? next)
    {
        switch (a)
        {
            case "-E":
                return "-E (preprocessing only)";
            case "-S":
                return "-S (assembly output)";
            case "-M" or "-MM":
                return $"{a} (dependency generation without a compile)";
            case "-march=native" or "-mtune=native" or "-mcpu=native":
                return $"{a} (depends on the local CPU)";
            case "-fprofile-arcs" or "-ftest-coverage" or "--coverage" or "-frepo":
                return $"{a} (writes files beside the source)";
            case "-save-temps" or "-wrapper" or "-B":
                return $"{a} (runs or writes outside the compile)";
            case "-specs":
                return "-specs (loads a specs file)";
            case "-Xclang":
                return "-Xclang (options hidden from Kiln)";
            case "-x":
                return next is not null && SourceLanguages.FromXOption(next) == SourceLanguage.Unknown
                    ? $"-x {next} is not distributable" : null;
        }

        if (a.StartsWith("-fprofile-generate", StringComparison.Ordinal) || a.StartsWith("-fprofile-use", StringComparison.Ordinal)
            || a.StartsWith("-fauto-profile", StringComparison.Ordinal) || a.StartsWith("-fprofile-dir", StringComparison.Ordinal))
        {
            return $"{a} (profile files are local)";
        }

        if (a.StartsWith("-save-temps", StringComparison.Ordinal))
        {
            return $"{a} (writes intermediate files beside the output)";
        }

        if (a.StartsWith("-fplugin", StringComparison.Ordinal) || a.StartsWith("-specs=", StringComparison.Ordinal)
            || (a.StartsWith("-B", StringComparison.Ordinal) && a.Length > 2))
        {
            return $"{a} (loads code or files from the local machine)";
        }

        if (a.StartsWith("-dr", StringComparison.Ordinal))
        {
            return $"{a} (RTL dumps are local)";
        }

        if (a.StartsWith("-Wa,", StringComparison.Ordinal) && (a.Contains(",-a", StringComparison.Ordinal) || a.Contains("--MD", StringComparison.Ordinal)))
        {
            return $"{a} (assembler listing or dependencies are local)";
        }

        if (a.StartsWith("-x", StringComparison.Ordinal) && a.Length > 2 && SourceLanguages.FromXOption(a[2..]) == SourceLanguage.Unknown)
        {
            return $"{a} is not distributable";
        }

        return null;
    }

    /// <summary>
    /// The dependency file the compile writes: the <c>-MF</c> value, else the output's name with
    /// <c>.d</c>, as gcc's driver spec <c>%{o*:%.d%*}</c> derives it. Null when none is written.
    /// </summary>
    public string? DependencyFile
    {
        get
        {
            if (!WritesDependencyFile)
            {
                return null;
            }

            return DependencyFileOption ?? Path.ChangeExtension(OutputOptionIndex >= 0 ? Output : Path.GetFileName(Source), ".d");
        }
    }

    /// <summary>
    /// Arguments (after the compiler) that preprocess the source locally to standard output and write
    /// the same dependency file, with the same targets, that the full compile would.
    /// </summary>
    public List<string> PreprocessArguments()
    {
        var result = new List<string>(Arguments.Count + 6);
        for (var i = 0; i < Arguments.Count; i++)
        {
            var a = Arguments[i];
            if (a == "-c")
            {
                continue;
            }

            if (i == OutputOptionIndex)
            {
                if (a == "-o")
                {
                    i++;
                }

                continue;
            }

            result.Add(a);
        }

        result.Add("-E");
        if (WritesDependencyFile)
        {
            if (DependencyFileOption is null)
            {
                result.Add("-MF");
                result.Add(DependencyFile!);
            }

            // gcc's driver adds "-MQ <output>" when compiling with -MD/-MMD, -o and no -MT; with -E it does not.
            if (!HasTargetOption && OutputOptionIndex >= 0)
            {
                result.Add("-MQ");
                result.Add(Output);
            }
        }

        return result;
    }

    /// <summary>
    /// The arguments a node needs besides its own input and output names: the client's arguments
    /// without the source, <c>-o</c>, <c>-c</c>, <c>-x</c> and every option that matters only to the
    /// preprocessor or the linker (distcc's <c>dcc_strip_local_args</c>).
    /// </summary>
    public List<string> RemoteArguments()
    {
        var result = new List<string>(Arguments.Count);
        for (var i = 0; i < Arguments.Count; i++)
        {
            var a = Arguments[i];
            if (i == SourceIndex || a == "-c")
            {
                continue;
            }

            if (i == OutputOptionIndex || a == "-x" || a == "-Xpreprocessor")
            {
                if (a is "-o" or "-x" or "-Xpreprocessor")
                {
                    i++;
                }

                continue;
            }

            if (a.StartsWith("-x", StringComparison.Ordinal) || s_preprocessorFlags.Contains(a)
                || a.StartsWith("-Wp,", StringComparison.Ordinal) || a.StartsWith("-Wl,", StringComparison.Ordinal)
                || a.StartsWith("-stdlib", StringComparison.Ordinal))
            {
                continue;
            }

            var stripped = false;
            foreach (var option in s_preprocessorWithValue)
            {
                if (a == option)
                {
                    i++;
                    stripped = true;
                    break;
                }

                if (a.StartsWith(option, StringComparison.Ordinal))
                {
                    stripped = true;
                    break;
                }
            }

            if (!stripped)
            {
                result.Add(a);
            }
        }

        return result;
    }
}
