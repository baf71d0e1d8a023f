using Kiln.Server.Cache;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.CompileCache;

/// <summary>The kiln program itself: a second client (its own KILN_DIR) compiling the same file gets the node's cached result.</summary>
public sealed class KilnCcCacheTests
{
    [Fact]
    public async Task SecondKilnCcClientIsAnsweredFromTheNodesCache()
    {
        await using var node = await TestNode.StartAsync();
        using var dir = new TempDirectory("kiln-cc-remote-hit");
        dir.Write("include/w.h", "#define WIDTH 7\n");
        dir.Write("w.c", "#include \"w.h\"\nint width(void) { int unused; return WIDTH; }\n");
        string[] args = ["-Iinclude", "-O2", "-Wall", "-c", "w.c"];
        var local = await Tools.RunAsync("gcc", [.. args, "-o", "local.o"], dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(local.ExitCode == 0, local.Stderr);

        var stderr = new List<string>();
        for (var client = 1; client <= 2; client++)
        {
            var environment = new Dictionary<string, string?>
            {
                // Pinned, so neither client prints a first-use notice and their stderr can be compared.
                ["KILN_HOSTS"] = $"{node.Node.KilnEndPoint},fp={node.Fingerprint}",
                ["DISTCC_HOSTS"] = null,
                ["KILN_DIR"] = dir.Combine($"client-{client}"),
                ["KILN_FALLBACK"] = "0",
                ["KILN_VERBOSE"] = null,
                ["LC_ALL"] = "C",
            };
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", .. args, "-o", $"out-{client}.o"], dir.Path, environment, TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Equal(await File.ReadAllBytesAsync(dir.Combine("local.o")), await File.ReadAllBytesAsync(dir.Combine($"out-{client}.o")));
            stderr.Add(run.Stderr);
        }

        // A node's warning has no source line under it (the node has no w.c to quote); the hit
        // repeats exactly what the first client was told.
        Assert.Contains("unused variable 'unused'", stderr[0]);
        Assert.Equal(stderr[0], stderr[1]);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(1, node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits);
    }

    private static async Task<Tools.Run> KilnCcAsync(TestNode node, string directory, string state, string? baseDirectory, params string[] args)
    {
        var environment = new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = node.Node.KilnEndPoint.ToString(),
            ["DISTCC_HOSTS"] = null,
            ["KILN_DIR"] = state,
            ["KILN_FALLBACK"] = "0",
            ["KILN_VERBOSE"] = null,
            ["KILN_BASEDIR"] = baseDirectory,
            ["LC_ALL"] = "C",
        };
        var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", .. args], directory, environment, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        return run;
    }

    private static string Checkout(TempDirectory root, string name, string source = "#include \"w.h\"\nint width(void) { return WIDTH; }\n")
    {
        var project = Path.Combine(root.Path, name, "project");
        Directory.CreateDirectory(Path.Combine(project, "include"));
        File.WriteAllText(Path.Combine(project, "include", "w.h"), "#define WIDTH 7\n");
        File.WriteAllText(Path.Combine(project, "w.c"), source);
        return project;
    }

    [Fact]
    public async Task TwoCheckoutsUnderKilnBasedirShareOneCompile()
    {
        await using var node = await TestNode.StartAsync();
        using var root = new TempDirectory("kiln-basedir");
        var hits = node.Node.Services.GetRequiredService<CacheCounters>().Kiln;

        // Absolute paths on the command line, as CMake writes them.
        foreach (var name in (string[])["a", "b"])
        {
            var project = Checkout(root, name);
            await KilnCcAsync(node, project, root.Combine("state-" + name), Path.Combine(root.Path, name),
                "-I" + Path.Combine(project, "include"), "-O2", "-c", Path.Combine(project, "w.c"), "-o", Path.Combine(project, "w.o"));
            var local = await Tools.RunAsync("gcc", ["-Iinclude", "-O2", "-c", "w.c", "-o", "local.o"], project);
            Assert.True(local.ExitCode == 0, local.Stderr);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(project, "local.o")), await File.ReadAllBytesAsync(Path.Combine(project, "w.o")));
        }

        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(1, hits.Hits);

        // Without KILN_BASEDIR a third checkout's absolute paths reach the preprocessed text: a miss.
        var c = Checkout(root, "c");
        await KilnCcAsync(node, c, root.Combine("state-c"), null,
            "-I" + Path.Combine(c, "include"), "-O2", "-c", Path.Combine(c, "w.c"), "-o", Path.Combine(c, "w.o"));
        Assert.Equal(2, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task DebugInfoNamesItsOwnDirectorySoCheckoutsDoNotShareIt()
    {
        await using var node = await TestNode.StartAsync();
        using var root = new TempDirectory("kiln-basedir-g");
        foreach (var name in (string[])["a", "b"])
        {
            // No macro in the code: a -g compile of preprocessed text records expanded columns (see StockDistccClientTests).
            var project = Checkout(root, name, "#include \"w.h\"\nint width(int w) { return w * 7; }\n");
            await KilnCcAsync(node, project, root.Combine("state-" + name), Path.Combine(root.Path, name), "-Iinclude", "-g", "-c", "w.c", "-o", "w.o");
            var local = await Tools.RunAsync("gcc", ["-Iinclude", "-g", "-c", "w.c", "-o", "local.o"], project);
            Assert.True(local.ExitCode == 0, local.Stderr);

            // DW_AT_comp_dir is this checkout's directory: an object from the other checkout would be wrong.
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(project, "local.o")), await File.ReadAllBytesAsync(Path.Combine(project, "w.o")));
        }

        Assert.Equal(2, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task UnderKilnBasedirASecondCheckoutSkipsThePreprocessorUnlessTheObjectNamesItsDirectory()
    {
        await using var node = await TestNode.StartAsync();
        using var root = new TempDirectory("kiln-basedir-direct");
        var log = root.Combine("cpp.log");
        var wrapper = root.Write("bin/gcc", $"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = \"-E\" ] && echo \"$PWD\" >> {log}; done\nexec /usr/bin/gcc \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        int PreprocessorRuns() => File.Exists(log) ? File.ReadAllLines(log).Length : 0;

        async Task CompileAsync(string name, params string[] extra)
        {
            var project = Path.Combine(root.Path, name, "project");
            if (!Directory.Exists(project))
            {
                // No macro in the code: a -g compile of preprocessed text records expanded columns (see StockDistccClientTests).
                Checkout(root, name, "#include \"w.h\"\nint width(int w) { return w * 7; }\n");
                foreach (var file in Directory.EnumerateFiles(project, "*", SearchOption.AllDirectories))
                {
                    File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddHours(-1));
                }
            }

            var environment = new Dictionary<string, string?>
            {
                ["KILN_HOSTS"] = node.KilnHost(),
                ["DISTCC_HOSTS"] = null,
                ["KILN_DIR"] = root.Combine("state-" + name + string.Concat(extra)),
                ["KILN_CACHE_SIZE"] = "0",
                ["KILN_FALLBACK"] = "0",
                ["KILN_VERBOSE"] = null,
                ["KILN_REMOTE_DIRECT"] = null,
                ["KILN_USER"] = null,
                ["KILN_BASEDIR"] = root.Path,
                ["LC_ALL"] = "C",
            };
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", wrapper, "-Iinclude", "-O2", .. extra, "-c", "w.c", "-o", "w.o"], project, environment,
                TimeSpan.FromMinutes(2));
            Assert.True(run.ExitCode == 0, run.Stderr);
            var local = await Tools.RunAsync("gcc", ["-Iinclude", "-O2", .. extra, "-c", "w.c", "-o", "local.o"], project);
            Assert.True(local.ExitCode == 0, local.Stderr);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(project, "local.o")), await File.ReadAllBytesAsync(Path.Combine(project, "w.o")));
        }

        await CompileAsync("a");
        await CompileAsync("b");
        Assert.Equal(1, PreprocessorRuns());
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // With -g the object records its directory: each checkout preprocesses and compiles its own.
        await CompileAsync("a", "-g");
        await CompileAsync("b", "-g");
        Assert.Equal(3, PreprocessorRuns());
        Assert.Equal(3, node.Node.Counters.CompilesOk);
    }
}
