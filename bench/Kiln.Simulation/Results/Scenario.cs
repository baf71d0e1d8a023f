namespace Kiln.Simulation.Results;

/// <summary>A named variant of the world.</summary>
/// <param name="Name">"steady" or "failures".</param>
/// <param name="FailureShare">Share of nodes that hang once.</param>
internal sealed record Scenario(string Name, double FailureShare)
{
    /// <summary>No node fails.</summary>
    public static Scenario Steady { get; } = new("steady", 0);

    /// <summary>5 % of the nodes (at least one) hang once for 10 minutes.</summary>
    public static Scenario Failures { get; } = new("failures", 0.05);
}
