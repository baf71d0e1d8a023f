using System.Globalization;
using Kiln.Simulation.Policies;
using Kiln.Simulation.Results;
using Kiln.Simulation.World;

// Kiln.Simulation: a discrete-event simulation of compile farms comparing placement policies.
//   Kiln.Simulation [--nodes 10,100,1000] [--seeds 5] [--first-seed 1] [--scenarios steady,failures]
//                   [--policies distcc,distcc-randomize,icecream,kiln,kiln-speed] [--large-seeds 3] [--parallel 2] [--make-jobs 32]
// Prints the markdown tables on stdout and one progress line per run on stderr.
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
