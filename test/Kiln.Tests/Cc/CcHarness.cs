using System.Text;
using Kiln.Cli.Cc;
using Kiln.Core.Compile;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// Runs <see cref="CompileDriver"/> in-process against a project directory, and plain gcc against an
/// identical copy, so a test can compare every file and byte the two leave behind.
/// </summary>
internal static class CcHarness
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>A small C and C++ project: sources under src/, a header under include/, empty obj/ and deps/.</summary>
    public static void WriteProject(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "src"));
        Directory.CreateDirectory(Path.Combine(root, "include"));
        Directory.CreateDirectory(Path.Combine(root, "obj"));
        Directory.CreateDirectory(Path.Combine(root, "deps"));
        File.WriteAllText(Path.Combine(root, "include", "config.h"), "#define ANSWER 42\nstatic inline int twice(int x) { return 2 * x; }\n");
        File.WriteAllText(Path.Combine(root, "src", "a.c"),
            "#include <stdio.h>\n#include \"config.h\"\nint answer(void) { return twice(ANSWER); }\nint main(void) { printf(\"%d\\n\", answer()); return 0; }\n");
        File.WriteAllText(Path.Combine(root, "src", "b.cpp"),
            "#include <vector>\n#include \"config.h\"\nint sum() { std::vector<int> v{1, 2, ANSWER}; int s = 0; for (int x : v) s += twice(x); return s; }\n");
        File.WriteAllText(Path.Combine(root, "src", "bad.c"), "int main(void)\n{\n  int unused = 1;\n  return missing + 1;\n}\n");
        File.WriteAllText(Path.Combine(root, "src", "warn.c"), "#warning from the preprocessor\nint f(int x) { int y; return x; }\n");
    }

    public static CcSettings Settings(string root, string state, string hosts, bool fallback = true, int seed = 42,
        TimeSpan? backoff = null, TimeSpan? slotWait = null, bool verbose = false, string hostsSource = "KILN_HOSTS")
    {
        var locale = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in CompileJob.LocaleVariables)
        {
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value)
            {
                locale[name] = value;
            }
        }

        return new CcSettings
        {
            WorkingDirectory = root,
            StateDirectory = state,
            HostsText = hosts,
            HostsSource = hostsSource,
            Fallback = fallback,
            Seed = seed,
            BackoffPeriod = backoff ?? CcSettings.DefaultBackoffPeriod,
            SlotWait = slotWait ?? TimeSpan.FromSeconds(20),
            SlotPoll = TimeSpan.FromMilliseconds(10),
            Verbose = verbose,
            Locale = locale,
        };
    }

    public static async Task<Result> KilnAsync(CcSettings settings, IRemoteCompileClient client, string compiler, params string[] args)
    {
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var driver = new CompileDriver(settings, _ => client, new CompilerConsole(stdout, stderr, isProcessConsole: false));
        var real = Masquerade.FindRealCompiler(compiler) ?? throw new InvalidOperationException(compiler + " not found");
        var exit = await driver.RunAsync(compiler, real, args, CancellationToken.None);
        return new Result(exit, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    public static async Task<Result> PlainAsync(string root, string compiler, params string[] args)
    {
        var run = await Tools.RunAsync(compiler, args, root);
        return new Result(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>Every file under <paramref name="root"/> with its bytes, by relative path.</summary>
    public static SortedDictionary<string, byte[]> Files(string root)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(root, file)] = File.ReadAllBytes(file);
        }

        return files;
    }

    /// <summary>Asserts that two trees hold the same files with the same bytes.</summary>
    public static void AssertSameFiles(string expectedRoot, string actualRoot)
    {
        var expected = Files(expectedRoot);
        var actual = Files(actualRoot);
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, bytes) in expected)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"{name} differs from plain gcc's ({bytes.Length} against {actual[name].Length} bytes)");
        }
    }

    public static int CountLines(string text, string containing)
    {
        var count = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.Contains(containing, StringComparison.Ordinal))
            {
                count++;
            }
        }

        return count;
    }
}
