namespace Kiln.Simulation.World;

/// <summary>One developer's build: <c>make -jN</c> on a client machine that preprocesses locally.</summary>
/// <param name="Id">Index; also the user's identity for fair shares.</param>
/// <param name="Project">"C" (uClibc-ng-like) or "C++".</param>
/// <param name="Start">When the build starts (seconds).</param>
/// <param name="MakeJobs">make's -j: compiles in flight at once.</param>
/// <param name="LocalCores">The client's own cores, for preprocessing and local fallback compiles.</param>
/// <param name="FirstJob">Index of its first job in <see cref="SimulationWorld.Jobs"/>.</param>
/// <param name="JobCount">How many compiles its build has.</param>
/// <param name="Link">Seconds of the final link or archive, run locally after the last compile.</param>
internal sealed record ClientSpec(
    int Id, string Project, double Start, int MakeJobs, int LocalCores, int FirstJob, int JobCount, double Link);
