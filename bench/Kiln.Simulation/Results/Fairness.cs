namespace Kiln.Simulation.Results;

/// <summary>Fairness measures over per-client shares.</summary>
internal static class Fairness
{
    /// <summary>Jain's index (Σx)² / (n·Σx²): 1 when all are equal, 1/n when one gets everything.</summary>
    public static double Jain(IReadOnlyList<double> shares)
    {
        double sum = 0;
        double squares = 0;
        foreach (var x in shares)
        {
            sum += x;
            squares += x * x;
        }
        return squares > 0 ? sum * sum / (shares.Count * squares) : 1;
    }
}
