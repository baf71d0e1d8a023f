using Kiln.Simulation.Engine;
using Kiln.Simulation.Policies;
using Kiln.Simulation.World;

namespace Kiln.Simulation.Results;

/// <summary>Runs every policy on every (size, scenario, seed) world; runs are independent, so they go in
/// parallel and the results come back in a fixed order.</summary>
internal static class Sweep
{
    /// <summary>One cell of the sweep.</summary>
    public sealed record Cell(int Nodes, Scenario Scenario, PolicyKind Policy, IReadOnlyList<RunResult> Runs);

    /// <summary>Runs the sweep.</summary>
    public static IReadOnlyList<Cell> Run(
        IReadOnlyList<int> sizes, IReadOnlyList<Scenario> scenarios, IReadOnlyList<PolicyKind> policies,
        Func<int, IReadOnlyList<int>> seeds, WorldOptions baseOptions, int parallelism, TextWriter progress)
    {
        var work = new List<(int Nodes, Scenario Scenario, PolicyKind Policy, int Seed)>();
        foreach (var nodes in sizes)
        {
            foreach (var scenario in scenarios)
            {
                foreach (var policy in policies)
                {
                    foreach (var seed in seeds(nodes))
                    {
                        work.Add((nodes, scenario, policy, seed));
                    }
                }
            }
        }
        var results = new RunResult[work.Count];
        var done = 0;
        Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
        {
            var (nodes, scenario, policy, seed) = work[i];
            var options = baseOptions with { Nodes = nodes, FailureShare = scenario.FailureShare };
            var world = WorldBuilder.Build(options, seed);
            var started = DateTime.UtcNow;
            results[i] = new Simulator(world, policy).Run();
            var count = Interlocked.Increment(ref done);
            lock (progress)
            {
                progress.WriteLine(
                    $"[{count}/{work.Count}] {nodes} nodes, {scenario.Name}, {policy}, seed {seed}: mean build {results[i].MeanMakespan:0.0} s ({(DateTime.UtcNow - started).TotalSeconds:0.0} s wall, {results[i].Events} events)");
            }
        });
        return [.. work.Select((w, i) => (w, i))
            .GroupBy(x => (x.w.Nodes, x.w.Scenario, x.w.Policy))
            .Select(g => new Cell(g.Key.Nodes, g.Key.Scenario, g.Key.Policy, [.. g.Select(x => results[x.i])]))];
    }
}
