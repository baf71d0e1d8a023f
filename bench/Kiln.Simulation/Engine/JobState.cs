using Kiln.Simulation.World;

namespace Kiln.Simulation.Engine;

/// <summary>A job's progress through one run.</summary>
internal sealed class JobState(JobSpec spec)
{
    /// <summary>The job.</summary>
    public JobSpec Spec { get; } = spec;

    /// <summary>Copies sent and not yet ended.</summary>
    public List<Attempt> Attempts { get; } = new(1);

    /// <summary>How many times the job's result reached make (the invariant is exactly once).</summary>
    public int Completions { get; set; }

    /// <summary>Whether make has its result.</summary>
    public bool Done => Completions > 0;

    /// <summary>When preprocessing ended and the job was ready to leave.</summary>
    public double ReadyAt { get; set; }

    /// <summary>Whether it is compiling on the client itself (fallback).</summary>
    public bool Local { get; set; }

    /// <summary>Whether Kiln already sent a second copy.</summary>
    public bool Raced { get; set; }

    /// <summary>BUSY replies in a row.</summary>
    public int BusyStreak { get; set; }
}
