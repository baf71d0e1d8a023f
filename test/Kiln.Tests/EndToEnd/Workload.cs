namespace Kiln.Tests.EndToEnd;

/// <summary>A real build that end-to-end tests and bench/compile-farm.sh run (bench/workloads.sh prepares it).</summary>
public enum Workload
{
    /// <summary>uClibc-ng 1.0.35 (Debian's uclibc-source), make defconfig, plain make: C.</summary>
    Uclibc,

    /// <summary>googletest with its tests and samples (Debian's googletest), CMake: C++.</summary>
    Googletest,
}
