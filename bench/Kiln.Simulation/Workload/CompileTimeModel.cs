namespace Kiln.Simulation.Workload;

/// <summary>
/// Compile times (preprocessing included, seconds on one core of the measuring machine), fitted by
/// maximum likelihood to per-file wall times measured with bench/workloads.sh's builds under
/// <c>make -j2</c> and a timing wrapper (bench/simulation-data/README.md has the method and raw data).
/// </summary>
internal static class CompileTimeModel
{
    /// <summary>uClibc-ng 1.0.35 defconfig, 820 compiles (C and assembler): median 0.100 s, mean 0.136 s,
    /// 99th percentile 0.62 s, longest 3.2 s.</summary>
    public static readonly LogNormal C = new(-2.306, 0.746);

    /// <summary>googletest 1.12 with its own tests and samples: C++ that includes gtest.h or gmock.h.</summary>
    public static readonly LogNormal Cpp = new(1.0, 0.8);

    /// <summary>Share of a compile that is preprocessing, done on the client ("cpp is 5-10 % of CPU",
    /// distcc's LCA 2004 paper; research note section 8, item 3).</summary>
    public const double PreprocessShare = 0.1;

    /// <summary>Draws are clipped to this range (seconds).</summary>
    public const double Shortest = 0.005;

    /// <summary>Draws are clipped to this range (seconds): a 10-minute compile is the tail's end.</summary>
    public const double Longest = 600;

    /// <summary>Archiving uClibc-ng's objects (seconds, local).</summary>
    public const double CLink = 2;

    /// <summary>Linking the C++ project (seconds, local).</summary>
    public const double CppLink = 15;
}
