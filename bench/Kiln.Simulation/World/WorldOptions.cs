namespace Kiln.Simulation.World;

/// <summary>The knobs of a generated world. The defaults are the sweep's; docs/benchmarks.md states them.</summary>
internal sealed record WorldOptions
{
    /// <summary>Compile nodes.</summary>
    public int Nodes { get; init; } = 100;

    /// <summary>Clients building at once; 0 means one client per five nodes, at least two.</summary>
    public int Clients { get; init; }

    /// <summary>make -jN of every client.</summary>
    public int MakeJobs { get; init; } = 32;

    /// <summary>Cores of every client machine (preprocessing, links, local fallback compiles).</summary>
    public int ClientCores { get; init; } = 8;

    /// <summary>Share of clients that build the C++ project rather than the C library.</summary>
    public double CppShare { get; init; } = 0.5;

    /// <summary>Compiles in the C++ project.</summary>
    public int CppFiles { get; init; } = 1500;

    /// <summary>Compiles in the C library (uClibc-ng's count).</summary>
    public int CFiles { get; init; } = 796;

    /// <summary>Builds start spread evenly at random over this many seconds.</summary>
    public double StartSpread { get; init; } = 120;

    /// <summary>Share of nodes that are workstations with an owner.</summary>
    public double WorkstationShare { get; init; } = 0.4;

    /// <summary>Mean idle spell of a workstation's owner (seconds).</summary>
    public double OwnerMeanIdle { get; init; } = 300;

    /// <summary>Mean busy spell of a workstation's owner (seconds).</summary>
    public double OwnerMeanBusy { get; init; } = 200;

    /// <summary>Share of nodes that hang once during the run; 0 for the steady scenario.</summary>
    public double FailureShare { get; init; }

    /// <summary>How long a hung node stays down before it is back, empty (seconds).</summary>
    public double FailureDowntime { get; init; } = 600;

    /// <summary>Hangs happen uniformly between the first build's start and this time (seconds).</summary>
    public double FailureWindow { get; init; } = 400;

    /// <summary>The clients this world gets.</summary>
    public int ClientCount => Clients > 0 ? Clients : Math.Max(2, Nodes / 5);
}
