namespace Kiln.Simulation.World;

/// <summary>One compile of one client's build.</summary>
/// <param name="Id">Index in <see cref="SimulationWorld.Jobs"/>.</param>
/// <param name="Client">The client whose build it is.</param>
/// <param name="Work">Seconds the compile proper takes on a speed-1.0 core (what runs remotely).</param>
/// <param name="Preprocess">Seconds of local preprocessing on the client before the job can leave.</param>
/// <param name="Estimate">What the client expects <see cref="Work"/> to be (from an earlier build, so
/// not exact); Kiln uses it to spot stragglers.</param>
internal sealed record JobSpec(int Id, int Client, double Work, double Preprocess, double Estimate);
