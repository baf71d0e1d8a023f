using Kiln.Tests.TestKit;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// Fresh build trees of the real workloads, from bench/workloads.sh (the same trees the benchmarks
/// time). The script prepares each workload once into its cache directory ($KILN_WORKLOADS_DIR,
/// default artifacts/workloads); every call here gets a clean copy.
/// </summary>
public static class Workloads
{
    /// <summary>How long preparing plus building one workload may take on a loaded 2-core machine.</summary>
    public static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(15);

    /// <summary>bench/workloads.sh in this repository.</summary>
    public static string Script => Path.Combine(Tools.RepositoryRoot, "bench", "workloads.sh");

    /// <summary>The installed source the workload comes from (the script honours the same variables).</summary>
    public static string SourcePath(Workload workload) => workload switch
    {
        Workload.Uclibc => Environment.GetEnvironmentVariable("UCLIBC_TARBALL") is { Length: > 0 } tarball
            ? tarball
            : "/usr/src/uClibc-ng-1.0.35.tar.xz",
        Workload.Googletest => Environment.GetEnvironmentVariable("GOOGLETEST_SOURCE") is { Length: > 0 } source
            ? source
            : "/usr/src/googletest",
        _ => throw new ArgumentOutOfRangeException(nameof(workload)),
    };

    /// <summary>The Debian package that installs the workload's source.</summary>
    public static string DebianPackage(Workload workload) => workload switch
    {
        Workload.Uclibc => "uclibc-source",
        Workload.Googletest => "googletest",
        _ => throw new ArgumentOutOfRangeException(nameof(workload)),
    };

    /// <summary>True when the workload's source package is installed.</summary>
    public static bool IsAvailable(Workload workload) => workload switch
    {
        Workload.Uclibc => File.Exists(SourcePath(workload)),
        Workload.Googletest => File.Exists(Path.Combine(SourcePath(workload), "CMakeLists.txt")),
        _ => false,
    };

    /// <summary>A clean, configured uClibc-ng tree at <paramref name="destination"/> (make defconfig done).</summary>
    public static Task<string> FreshUclibcAsync(string destination) =>
        RunScriptAsync(["fresh", "uclibc", destination], environment: null);

    /// <summary>
    /// An empty googletest build directory at <paramref name="destination"/>, configured by CMake with
    /// <paramref name="cmakeArguments"/> (for example <c>-DCMAKE_CXX_COMPILER_LAUNCHER=kiln;cc</c>) and
    /// <paramref name="environment"/> (for example CC and CXX).
    /// </summary>
    public static Task<string> FreshGoogletestAsync(string destination, IEnumerable<string>? cmakeArguments = null,
        IDictionary<string, string?>? environment = null) =>
        RunScriptAsync(["fresh", "googletest", destination, .. cmakeArguments ?? []], environment);

    /// <summary>
    /// Runs <c>make -jN</c> in <paramref name="directory"/> with extra make arguments (such as
    /// <c>CC=kiln cc gcc</c>) and environment. Fails the test with the log's tail when make fails.
    /// </summary>
    public static async Task<Tools.Run> MakeAsync(string directory, int jobs, IEnumerable<string>? makeArguments = null,
        IDictionary<string, string?>? environment = null)
    {
        var run = await Tools.RunAsync("make", ["-C", directory, $"-j{jobs}", .. makeArguments ?? []], directory, environment, BuildTimeout);
        if (run.ExitCode != 0)
        {
            Assert.Fail($"make -j{jobs} in {directory} exited {run.ExitCode}:\n{Tail(run.Stdout + run.Stderr, 40)}");
        }

        return run;
    }

    private static async Task<string> RunScriptAsync(string[] arguments, IDictionary<string, string?>? environment)
    {
        var run = await Tools.RunAsync("bash", [Script, .. arguments], Tools.RepositoryRoot, environment, BuildTimeout);
        if (run.ExitCode != 0)
        {
            Assert.Fail($"bench/workloads.sh {string.Join(' ', arguments)} exited {run.ExitCode}:\n{Tail(run.Stderr, 40)}");
        }

        var path = run.Stdout.Trim();
        Assert.True(Directory.Exists(path), $"bench/workloads.sh {string.Join(' ', arguments)} printed '{path}', which is not a directory");
        return path;
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
