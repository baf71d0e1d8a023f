using System.Globalization;
using Kiln.Simulation.Policies;
using Kiln.Simulation.Results;
using Kiln.Simulation.Workload;
using Kiln.Simulation.World;

// Kiln.Simulation: a discrete-event simulation of compile farms comparing placement policies.
//   Kiln.Simulation [--nodes 10,100,1000] [--seeds 5] [--first-seed 1] [--scenarios steady,failures]
//                   [--policies distcc,distcc-randomize,icecream,kiln,kiln-speed] [--large-seeds 3] [--parallel 2] [--make-jobs 32]
// Prints the markdown tables on stdout and one progress line per run on stderr.
//   Kiln.Simulation --describe-workload    the job-size model, one markdown sentence
//   Kiln.Simulation --fit FILE             the lognormal fit of a measured compile-time file
var sizes = new List<int> { 10, 100, 1000 };
var seedCount = 5;
var largeSeedCount = 0;
var firstSeed = 1;
var scenarios = new List<Scenario> { Scenario.Steady, Scenario.Failures };
var policies = Enum.GetValues<PolicyKind>().ToList();
var parallel = Environment.ProcessorCount;
var options = new WorldOptions();
for (var i = 0; i < args.Length; i++)
{
    var value = i + 1 < args.Length ? args[i + 1] : "";
    switch (args[i])
    {
        case "--nodes":
            sizes = [.. value.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))];
            i++;
            break;
        case "--seeds":
            seedCount = int.Parse(value, CultureInfo.InvariantCulture);
            i++;
            break;
        case "--large-seeds":
            largeSeedCount = int.Parse(value, CultureInfo.InvariantCulture);
            i++;
            break;
        case "--first-seed":
            firstSeed = int.Parse(value, CultureInfo.InvariantCulture);
            i++;
            break;
        case "--scenarios":
            scenarios = [.. value.Split(',').Select(v => v switch
            {
                "steady" => Scenario.Steady,
                "failures" => Scenario.Failures,
                _ => throw new ArgumentException($"unknown scenario '{v}' (steady, failures)"),
            })];
            i++;
            break;
        case "--policies":
            policies = [.. value.Split(',').Select(v => v switch
            {
                "distcc" => PolicyKind.Distcc,
                "distcc-randomize" => PolicyKind.DistccRandomize,
                "icecream" => PolicyKind.Icecream,
                "kiln" => PolicyKind.Kiln,
                "kiln-speed" => PolicyKind.KilnSpeed,
                _ => throw new ArgumentException($"unknown policy '{v}' (distcc, distcc-randomize, icecream, kiln, kiln-speed)"),
            })];
            i++;
            break;
        case "--parallel":
            parallel = int.Parse(value, CultureInfo.InvariantCulture);
            i++;
            break;
        case "--describe-workload":
            Console.Out.WriteLine(CompileTimeModel.Describe());
            return 0;
        case "--fit":
            // A file of "wall_us cpu_us source" lines, as bench/simulation-data/ holds: the CPU column's fit.
            var fit = LogNormal.Fit([.. File.ReadLines(value)
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length >= 2)
                .Select(fields => double.Parse(fields[1], CultureInfo.InvariantCulture) / 1e6)]);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"mu {fit.Mu:0.000} sigma {fit.Sigma:0.000} median {fit.Median:0.000} s mean {fit.Mean:0.000} s"));
            return 0;
        case "--make-jobs":
            options = options with { MakeJobs = int.Parse(value, CultureInfo.InvariantCulture) };
            i++;
            break;
        default:
            Console.Error.WriteLine($"Kiln.Simulation: unknown option '{args[i]}'");
            return 2;
    }
}
// Sizes of 1000 nodes and more may run fewer seeds (--large-seeds) to keep the sweep to minutes.
var seedsFor = (int nodes) => Enumerable.Range(firstSeed, nodes >= 1000 && largeSeedCount > 0 ? largeSeedCount : seedCount).ToList();
var cells = Sweep.Run(sizes, scenarios, policies, seedsFor, options, parallel, Console.Error);
Console.Out.Write(Report.Tables(cells));
return 0;
