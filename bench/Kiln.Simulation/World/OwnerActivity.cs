namespace Kiln.Simulation.World;

/// <summary>
/// The load a workstation's owner puts on it: idle spells and busy spells with exponential lengths, and
/// during a busy spell a number of CPU-bound processes (their own builds, a browser, tests) between a
/// quarter of the cores and all of them. Each workstation has its own random stream, so the owner does
/// the same thing whatever policy the cluster runs.
/// </summary>
internal sealed class OwnerActivity
{
    private readonly Random _random;
    private readonly int _cores;
    private readonly double _meanIdle;
    private readonly double _meanBusy;

    /// <summary>Starts in the stationary mix of idle and busy spells.</summary>
    public OwnerActivity(int seed, int cores, double meanIdle, double meanBusy)
    {
        _random = new Random(seed);
        _cores = cores;
        _meanIdle = meanIdle;
        _meanBusy = meanBusy;
        Processes = _random.NextDouble() < meanBusy / (meanIdle + meanBusy) ? DrawProcesses() : 0;
        NextChange = Exponential(Processes > 0 ? _meanBusy : _meanIdle);
    }

    /// <summary>CPU-bound processes the owner runs now.</summary>
    public int Processes { get; private set; }

    /// <summary>When the owner next starts or stops working.</summary>
    public double NextChange { get; private set; }

    /// <summary>Moves to the next spell, which starts at <see cref="NextChange"/>.</summary>
    public void Advance()
    {
        Processes = Processes > 0 ? 0 : DrawProcesses();
        NextChange += Exponential(Processes > 0 ? _meanBusy : _meanIdle);
    }

    private int DrawProcesses() => Math.Max(1, (int)Math.Ceiling(_cores * (0.25 + (0.75 * _random.NextDouble()))));

    private double Exponential(double mean) => -mean * Math.Log(1.0 - _random.NextDouble());
}
