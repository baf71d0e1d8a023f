using System.Globalization;

namespace Kiln.Simulation.Results;

/// <summary>Mean and sample standard deviation of one figure over seeds.</summary>
internal readonly record struct Spread(double Mean, double Deviation, double Min, double Max)
{
    /// <summary>Summarises <paramref name="values"/>.</summary>
    public static Spread Of(IEnumerable<double> values)
    {
        var list = values.ToList();
        var mean = list.Average();
        var deviation = list.Count > 1 ? Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1)) : 0;
        return new Spread(mean, deviation, list.Min(), list.Max());
    }

    /// <summary>"mean ± sd" with <paramref name="format"/>.</summary>
    public string Format(string format) =>
        string.Create(CultureInfo.InvariantCulture, $"{Mean.ToString(format, CultureInfo.InvariantCulture)} ± {Deviation.ToString(format, CultureInfo.InvariantCulture)}");
}
