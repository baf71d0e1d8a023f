namespace Kiln.Simulation.Workload;

/// <summary>A lognormal distribution: ln X is normal with mean <see cref="Mu"/> and deviation <see cref="Sigma"/>.</summary>
internal readonly record struct LogNormal(double Mu, double Sigma)
{
    /// <summary>The median, e^μ.</summary>
    public double Median => Math.Exp(Mu);

    /// <summary>The mean, e^(μ + σ²/2).</summary>
    public double Mean => Math.Exp(Mu + (Sigma * Sigma / 2));

    /// <summary>One draw, by Box-Muller from two uniforms of <paramref name="random"/>.</summary>
    public double Sample(Random random) => Math.Exp(Mu + (Sigma * StandardNormal.Sample(random)));

    /// <summary>The maximum-likelihood fit: the mean and deviation of the logarithms.</summary>
    public static LogNormal Fit(IReadOnlyList<double> values)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(values.Count, 2);
        double sum = 0;
        foreach (var value in values)
        {
            sum += Math.Log(value);
        }
        var mu = sum / values.Count;
        double squares = 0;
        foreach (var value in values)
        {
            var d = Math.Log(value) - mu;
            squares += d * d;
        }
        return new LogNormal(mu, Math.Sqrt(squares / values.Count));
    }
}
