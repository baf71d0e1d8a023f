namespace Kiln.Simulation.Workload;

/// <summary>
/// Compile times (preprocessing included, seconds on one core of the measuring machine), fitted by
/// maximum likelihood to per-file CPU times (user + system of the compiler and its children) measured with bench/workloads.sh's builds under
/// <c>make -j2</c> and a timing wrapper (bench/simulation-data/README.md has the method and raw data).
/// </summary>
internal static class CompileTimeModel
{
    /// <summary>uClibc-ng 1.0.35 defconfig, 820 compiles (C and assembler), CPU time: median 0.047 s,
    /// mean 0.055 s (fit: 0.052 s), 99th percentile 0.16 s, longest 2.4 s (bench/simulation-data/uclibc-ng.txt).</summary>
    public static readonly LogNormal C = new(-3.051, 0.437);

    /// <summary>googletest with its own tests and samples, C++ at -O3 that includes gtest.h or gmock.h: the first 87
    /// of its 99 compiles (the build was stopped for time; the missing ones are big gmock tests, so the
    /// tail is if anything too light): median 3.9 s, longest 107 s (bench/simulation-data/googletest.txt).</summary>
    public static readonly LogNormal Cpp = new(1.372, 1.504);

    /// <summary>Share of a compile that is preprocessing, done on the client ("cpp is 5-10 % of CPU",
    /// distcc's LCA 2004 paper; research note section 8, item 3).</summary>
    public const double PreprocessShare = 0.1;

    /// <summary>Draws are clipped to this range (seconds).</summary>
    public const double Shortest = 0.005;

    /// <summary>Draws are clipped to this range (seconds): a 10-minute compile is the tail's end.</summary>
    public const double Longest = 600;

    /// <summary>The model in one markdown sentence, for docs/benchmarks.md.</summary>
    public static string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"C (uClibc-ng, 820 compiles) μ {C.Mu:0.000}, σ {C.Sigma:0.000} (median {C.Median * 1000:0} ms, mean {C.Mean * 1000:0} ms); C++ (googletest, 87 of its 99 compiles) μ {Cpp.Mu:0.000}, σ {Cpp.Sigma:0.000} (median {Cpp.Median:0.00} s, mean {Cpp.Mean:0.00} s).");

    /// <summary>Archiving uClibc-ng's objects (seconds, local).</summary>
    public const double CLink = 2;

    /// <summary>Linking the C++ project (seconds, local).</summary>
    public const double CppLink = 15;
}
