using System.Globalization;
using Kiln.Server.Cache;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.CompileCache;

/// <summary>
/// Stock distcc 3.4 against the node's distcc listener: the node keys each preprocessed job itself,
/// so the second compile of the same source (from a second client with its own DISTCC_DIR) is
/// answered from the cache, with the object a local gcc gives and the warning it prints.
/// </summary>
public sealed class DistccTransparentCacheTests
{
    [Theory]
    [InlineData("127.0.0.1:PORT/2")]
    [InlineData("127.0.0.1:PORT/2,lzo")]
    public async Task SecondStockDistccCompileIsAHitWithTheSameObjectAndWarning(string hosts)
    {
        Assert.True(Tools.Exists("distcc"), "distcc is not installed (apt-get install distcc)");
        await using var node = await TestNode.StartAsync(distcc: true);
        using var dir = new TempDirectory("kiln-distcc-cache");
        dir.Write("include/shape.h", "#pragma once\n#define SIDES(n) ((n) * 2)\n");
        dir.Write("shape.c", "#include <stdio.h>\n#include \"shape.h\"\nint shape(void) { int unused; printf(\"%d\\n\", SIDES(3)); return SIDES(2); }\n");
        string[] flags = ["-Iinclude", "-O2", "-Wall"];
        var local = await Tools.RunAsync("gcc", [.. flags, "-c", "shape.c", "-o", "local.o"], dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(local.ExitCode == 0, local.Stderr);
        var expected = await File.ReadAllBytesAsync(dir.Combine("local.o"));

        var port = node.Node.DistccEndPoint!.Port.ToString(CultureInfo.InvariantCulture);
        var errors = new List<string>();
        for (var client = 1; client <= 2; client++)
        {
            var distccDir = dir.Combine($"distcc-{client}");
            Directory.CreateDirectory(distccDir);
            var environment = new Dictionary<string, string?>
            {
                ["DISTCC_HOSTS"] = hosts.Replace("PORT", port, StringComparison.Ordinal),
                ["DISTCC_FALLBACK"] = "0",
                ["DISTCC_SKIP_LOCAL_RETRY"] = "1",
                ["DISTCC_DIR"] = distccDir,
                ["DISTCC_BACKOFF_PERIOD"] = "0",
                ["DISTCC_VERBOSE"] = null,
                ["LC_ALL"] = "C",
            };
            var output = $"remote-{client}.o";
            var run = await Tools.RunAsync("distcc", ["gcc", .. flags, "-c", "shape.c", "-o", output], dir.Path, environment);
            Assert.True(run.ExitCode == 0, $"distcc run {client} failed: {run.Stderr}");
            Assert.Equal(expected, await File.ReadAllBytesAsync(dir.Combine(output)));
            errors.Add(run.Stderr);
        }

        Assert.Contains("unused variable", errors[1]);
        Assert.Equal(errors[0], errors[1]);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(2, node.Node.Counters.DistccJobs);
        var counters = node.Node.Services.GetRequiredService<CacheCounters>().Distcc;
        Assert.Equal(1, counters.Hits);
        Assert.Equal(1, counters.Misses);
        Assert.Equal(1, counters.Writes);
    }
}
