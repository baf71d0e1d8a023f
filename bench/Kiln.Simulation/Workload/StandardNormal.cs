namespace Kiln.Simulation.Workload;

/// <summary>Draws from the standard normal distribution.</summary>
internal static class StandardNormal
{
    /// <summary>One draw by the Box-Muller transform.</summary>
    public static double Sample(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
