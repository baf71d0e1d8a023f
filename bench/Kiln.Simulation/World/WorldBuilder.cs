using Kiln.Simulation.Workload;

namespace Kiln.Simulation.World;

/// <summary>Generates a <see cref="SimulationWorld"/> from a seed: the same seed and options give the same world.</summary>
internal static class WorldBuilder
{
    /// <summary>Node speeds: lognormal around 1.0 (σ 0.3, so 95 % between 0.55 and 1.8), clipped to
    /// [0.4, 2.5]: a fleet of a few hardware generations.</summary>
    private static readonly LogNormal SpeedSpread = new(0, 0.3);

    /// <summary>How far a client's expectation of a compile's time is off (σ 0.3: from an earlier build
    /// on other hardware).</summary>
    private static readonly LogNormal EstimateError = new(0, 0.3);

    /// <summary>Builds the world for <paramref name="seed"/>.</summary>
    public static SimulationWorld Build(WorldOptions options, int seed)
    {
        var random = new Random(seed);
        var nodes = new List<NodeSpec>(options.Nodes);
        for (var i = 0; i < options.Nodes; i++)
        {
            var workstation = random.NextDouble() < options.WorkstationShare;
            var roll = random.NextDouble();
            // Servers: 30 % 4 cores, 40 % 8, 20 % 16, 10 % 32. Workstations: 40 % 4, 40 % 8, 20 % 16.
            var cores = workstation
                ? roll < 0.4 ? 4 : roll < 0.8 ? 8 : 16
                : roll < 0.3 ? 4 : roll < 0.7 ? 8 : roll < 0.9 ? 16 : 32;
            var speed = Math.Clamp(SpeedSpread.Sample(random), 0.4, 2.5);
            nodes.Add(new NodeSpec(i, cores, speed, workstation));
        }

        var clients = new List<ClientSpec>(options.ClientCount);
        var jobs = new List<JobSpec>();
        for (var c = 0; c < options.ClientCount; c++)
        {
            var cpp = random.NextDouble() < options.CppShare;
            var model = cpp ? CompileTimeModel.Cpp : CompileTimeModel.C;
            var count = cpp ? options.CppFiles : options.CFiles;
            var first = jobs.Count;
            for (var j = 0; j < count; j++)
            {
                var total = Math.Clamp(model.Sample(random), CompileTimeModel.Shortest, CompileTimeModel.Longest);
                var preprocess = total * CompileTimeModel.PreprocessShare;
                var work = total - preprocess;
                jobs.Add(new JobSpec(jobs.Count, c, work, preprocess, work * EstimateError.Sample(random)));
            }
            var start = random.NextDouble() * options.StartSpread;
            clients.Add(new ClientSpec(c, cpp ? "C++" : "C", start, options.MakeJobs, options.ClientCores, first, count,
                cpp ? CompileTimeModel.CppLink : CompileTimeModel.CLink));
        }

        var failures = new List<NodeFailure>();
        if (options.FailureShare > 0)
        {
            var failing = (int)Math.Round(options.Nodes * options.FailureShare);
            var order = Enumerable.Range(0, options.Nodes).ToArray();
            random.Shuffle(order);
            foreach (var node in order.Take(Math.Max(1, failing)).Order())
            {
                var down = options.StartSpread * 0.25 + (random.NextDouble() * options.FailureWindow);
                failures.Add(new NodeFailure(node, down, down + options.FailureDowntime));
            }
        }
        return new SimulationWorld(seed, options, nodes, clients, jobs, failures);
    }
}
