using System.Globalization;
using System.Text;
using Kiln.Simulation.Policies;

namespace Kiln.Simulation.Results;

/// <summary>Markdown tables of a sweep, one per cluster size, every figure as mean ± standard deviation over seeds.</summary>
internal static class Report
{
    /// <summary>The tables and the headline ratios.</summary>
    public static string Tables(IReadOnlyList<Sweep.Cell> cells)
    {
        var text = new StringBuilder();
        foreach (var size in cells.Select(c => c.Nodes).Distinct())
        {
            var first = cells.First(c => c.Nodes == size).Runs[0];
            Line(text, $"### {size} nodes, {cells.First(c => c.Nodes == size).Runs[0].Makespans.Count} clients, {cells.First(c => c.Nodes == size).Runs.Count} seeds");
            Line(text, "");
            Line(text, "| scenario | policy | mean build (s) | × Kiln's | slowest build (s) | overloaded node-time | max jobs beyond slots | owner CPU lost | Jain | worst/best stretch | nodes used | local compiles | lost copies | races |");
            Line(text, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var cell in cells.Where(c => c.Nodes == size))
            {
                var kiln = cells.FirstOrDefault(c => c.Nodes == size && c.Scenario == cell.Scenario && c.Policy == PolicyKind.Kiln);
                var ratio = kiln is null
                    ? "-"
                    : Spread.Of(cell.Runs.Zip(kiln.Runs, (r, k) => r.MeanMakespan / k.MeanMakespan)).Format("0.00");
                var runs = cell.Runs;
                Line(text, string.Create(CultureInfo.InvariantCulture,
                    $"| {cell.Scenario.Name} | {Name(cell.Policy)} | {Spread.Of(runs.Select(r => r.MeanMakespan)).Format("0.0")} | {ratio} | {Spread.Of(runs.Select(r => r.MaxMakespan)).Format("0.0")} | {Percent(Spread.Of(runs.Select(r => r.OverloadShare)))} | {runs.Max(r => r.MaxExcess)} | {Percent(Spread.Of(runs.Select(r => r.OwnerLoss)))} | {Spread.Of(runs.Select(r => r.Jain)).Format("0.000")} | {Spread.Of(runs.Select(r => r.StretchSpread)).Format("0.00")} | {Percent(Spread.Of(runs.Select(r => r.NodesUsed)))} | {runs.Average(r => r.LocalFallbacks):0} | {runs.Average(r => r.LostAttempts):0} | {runs.Average(r => r.Races):0} |"));
            }
            Line(text, "");
            _ = first;
        }
        return text.ToString();
    }

    /// <summary>The policy's name in the tables.</summary>
    public static string Name(PolicyKind policy) => policy switch
    {
        PolicyKind.Distcc => "distcc",
        PolicyKind.DistccRandomize => "distcc --randomize",
        PolicyKind.Icecream => "icecream (fastest)",
        PolicyKind.Kiln => "Kiln",
        PolicyKind.KilnSpeed => "Kiln + speed",
        _ => policy.ToString(),
    };

    private static string Percent(Spread spread) =>
        string.Create(CultureInfo.InvariantCulture, $"{spread.Mean * 100:0.0} ± {spread.Deviation * 100:0.0} %");

    private static void Line(StringBuilder text, string line) => text.Append(line).Append('\n');
}
