using Kiln.Tests.TestKit;

namespace Kiln.Tests.EndToEnd;

/// <summary>The CMake form the README gives: <c>-DCMAKE_CXX_COMPILER_LAUNCHER="kiln;cc"</c>, on the googletest workload.</summary>
public sealed class GoogletestLauncherTests
{
    /// <summary>C++ compiles in googletest's "samples" scope: 4 library sources and 14 sample sources.</summary>
    public const int ExpectedSampleObjects = 18;

    [WorkloadFact(Workload.Googletest)]
    [Trait("Category", "EndToEnd")]
    public async Task Kiln_cc_as_the_cmake_compiler_launcher_builds_working_tests()
    {
        using var work = new TempDirectory("kiln-googletest");
        var environment = new Dictionary<string, string?>
        {
            ["KILN_GOOGLETEST_SCOPE"] = "samples",
            ["KILN_DIR"] = work.Combine("kiln-client"),
            ["CC"] = null,
            ["CXX"] = null,
            ["MAKEFLAGS"] = null,
        };
        var launcher = Tools.KilnBinary + ";cc";
        var build = await Workloads.FreshGoogletestAsync(
            work.Combine("build"),
            [$"-DCMAKE_C_COMPILER_LAUNCHER={launcher}", $"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}"],
            environment);

        var make = await Workloads.MakeAsync(build, jobs: 2, ["VERBOSE=1"], environment);

        // Every compile line goes through the launcher, and the tests it built pass.
        Assert.Contains($"{Tools.KilnBinary} cc /usr/bin/c++", make.Stdout, StringComparison.Ordinal);
        var objects = await ObjectDigests.CaptureAsync(build, CancellationToken.None);
        Assert.Equal(ExpectedSampleObjects, objects.Count);
        var sample = await Tools.RunAsync(Path.Combine(build, "googletest", "sample1_unittest"), [], build);
        Assert.True(sample.ExitCode == 0, sample.Stdout + sample.Stderr);
        Assert.Contains("[  PASSED  ]", sample.Stdout, StringComparison.Ordinal);
    }
}
