using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>
/// The stock distcc 3.4 client compiles through a Kiln node's distcc listener in protocol 1, 2 (,lzo)
/// and 3 (pump, ,cpp,lzo); every object is byte-identical to a local gcc -c and the node counts the jobs.
/// </summary>
public class StockDistccClientTests
{
    private static void WriteSources(TempDirectory dir)
    {
        dir.Write("include/shapes.h", "#pragma once\n#define SIDES(n) ((n) * 2)\nstruct shape { int sides; double area; };\n");
        dir.Write("one.c", "#include <stdio.h>\n#include \"shapes.h\"\nint one(void) { struct shape s = { SIDES(2), 1.5 }; printf(\"%d\\n\", s.sides); return s.sides; }\n");
        dir.Write("two.c", "#include <string.h>\nstatic int helper(const char *s) { return (int)strlen(s); }\nint two(void) { return helper(\"kiln\") + TWO; }\n");
        dir.Write("three.c", "#include \"shapes.h\"\ndouble three(struct shape *s) { return s->area * SIDES(s->sides); }\n");
        dir.Write("five.c", "#include <stdlib.h>\nint five(int a, int b) { return abs(a * b) + 5; }\n");
        dir.Write("four.cpp", "#include <vector>\n#include <string>\n#include \"shapes.h\"\nint four() { std::vector<std::string> v{\"a\", \"bb\"}; return (int)v[1].size() + SIDES(1); }\n");
    }

    // (compiler, source, flags): -I is needed by the shared header, -D by two.c. -g goes on five.c, which
    // expands no macro in its code: a compile of preprocessed text records the expanded columns in the
    // line table, so plain-mode distcc (stock distccd too) differs from a local -g compile where macros are used.
    private static readonly (string Compiler, string Source, string[] Flags)[] s_jobs =
    [
        ("gcc", "one.c", ["-Iinclude", "-O2"]),
        ("gcc", "two.c", ["-DTWO=2", "-Wall"]),
        ("gcc", "three.c", ["-Iinclude", "-Os"]),
        ("gcc", "five.c", ["-g", "-O1"]),
        ("g++", "four.cpp", ["-Iinclude", "-O1", "-std=c++17"]),
    ];

    private static async Task CompileAllAsync(string hosts, bool pump)
    {
        Assert.True(Tools.Exists("distcc"), "distcc is not installed (apt-get install distcc)");
        await using var node = await TestNode.StartAsync(distcc: true);
        using var dir = new TempDirectory("kiln-stock-distcc");
        WriteSources(dir);
        var distccDir = dir.Combine("distcc-dir");
        Directory.CreateDirectory(distccDir);
        var environment = new Dictionary<string, string?>
        {
            ["DISTCC_HOSTS"] = hosts.Replace("PORT", node.Node.DistccEndPoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ["DISTCC_FALLBACK"] = "0",
            ["DISTCC_SKIP_LOCAL_RETRY"] = "1",
            ["DISTCC_DIR"] = distccDir,
            ["DISTCC_BACKOFF_PERIOD"] = "0",
            ["DISTCC_VERBOSE"] = null,
        };
        if (pump)
        {
            Assert.True(Tools.Exists("distcc-pump"), "distcc-pump is not installed (apt-get install distcc-pump)");
            environment["PYTHONPATH"] = PumpIncludeServerShim.Install(dir);
        }

        foreach (var (compiler, source, flags) in s_jobs)
        {
            var output = "remote-" + Path.ChangeExtension(source, ".o");
            string[] distccArgs = [compiler, .. flags, "-MD", "-c", source, "-o", output];
            var run = pump
                ? await Tools.RunAsync("distcc-pump", ["distcc", .. distccArgs], dir.Path, environment)
                : await Tools.RunAsync("distcc", distccArgs, dir.Path, environment);
            Assert.True(run.ExitCode == 0, $"distcc {string.Join(' ', distccArgs)} failed: {run.Stderr}");
            Assert.DoesNotContain("preprocessing locally", run.Stderr);
            Assert.DoesNotContain("running locally", run.Stderr);

            var expected = await DistccTestKit.LocalObjectAsync(dir, compiler, source, flags);
            Assert.Equal(expected, await File.ReadAllBytesAsync(dir.Combine(output)));

            if (pump)
            {
                // In pump mode the dependency file is the node's (DOTD), rewritten to client paths.
                // (In plain mode the client writes it while preprocessing, as <source>.d: a distcc quirk.)
                var deps = await File.ReadAllTextAsync(dir.Combine(Path.ChangeExtension(output, ".d")));
                Assert.StartsWith(output + ":", deps);
                Assert.Contains(source, deps);
                Assert.DoesNotContain(node.DataDirectory, deps);
                Assert.Contains("/usr/include/", deps);
                if (source is not "two.c" and not "five.c")
                {
                    Assert.Contains("include/shapes.h", deps);
                }
            }
        }

        var counters = node.Node.Counters;
        Assert.Equal(s_jobs.Length, counters.DistccJobs);
        Assert.Equal(s_jobs.Length, counters.CompilesOk);
        Assert.Equal(0, counters.ProtocolErrors);
        Assert.Equal(0, counters.Refused);
    }

    [Fact]
    public Task Protocol1CompilesByteIdenticalObjects() => CompileAllAsync("127.0.0.1:PORT/2", pump: false);

    [Fact]
    public Task Protocol2LzoCompilesByteIdenticalObjects() => CompileAllAsync("127.0.0.1:PORT/2,lzo", pump: false);

    [Fact]
    public Task Protocol3PumpCompilesByteIdenticalObjects() => CompileAllAsync("127.0.0.1:PORT/2,cpp,lzo", pump: true);

    [Fact]
    public async Task CompileErrorReachesTheUserWithTheCompilersExitStatus()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        using var dir = new TempDirectory("kiln-stock-distcc");
        dir.Write("broken.c", "int broken(void) { return undeclared_name; }\n");
        var environment = new Dictionary<string, string?>
        {
            ["DISTCC_HOSTS"] = $"127.0.0.1:{node.Node.DistccEndPoint!.Port}/2,lzo",
            ["DISTCC_FALLBACK"] = "0",
            ["DISTCC_SKIP_LOCAL_RETRY"] = "1",
            ["DISTCC_DIR"] = dir.Combine("distcc-dir"),
        };
        Directory.CreateDirectory(dir.Combine("distcc-dir"));
        var run = await Tools.RunAsync("distcc", ["gcc", "-c", "broken.c", "-o", "broken.o"], dir.Path, environment);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("'undeclared_name' undeclared", run.Stderr);
        Assert.Equal(1, node.Node.Counters.CompilesFailed);
    }

    [Fact]
    public async Task RefusedJobShowsTheNodesReasonOnTheUsersTerminal()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        using var dir = new TempDirectory("kiln-stock-distcc");
        dir.Write("plug.c", "int plug(void) { return 1; }\n");
        var environment = new Dictionary<string, string?>
        {
            ["DISTCC_HOSTS"] = $"127.0.0.1:{node.Node.DistccEndPoint!.Port}/2",
            ["DISTCC_FALLBACK"] = "0",
            ["DISTCC_SKIP_LOCAL_RETRY"] = "1",
            ["DISTCC_DIR"] = dir.Combine("distcc-dir"),
        };
        Directory.CreateDirectory(dir.Combine("distcc-dir"));

        // The stock client keeps -fplugin local itself; -fstack-usage it sends, and the node refuses it.
        var run = await Tools.RunAsync("distcc", ["gcc", "-fstack-usage", "-c", "plug.c", "-o", "plug.o"], dir.Path, environment);
        Assert.Equal(101, run.ExitCode);
        Assert.Contains("kiln node test-node: argument '-fstack-usage' refused", run.Stderr);
        Assert.Equal(1, node.Node.Counters.Refused);
        Assert.False(File.Exists(dir.Combine("plug.o")));
    }
}
