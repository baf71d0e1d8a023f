namespace Kiln.Server.Accounting;

/// <summary>How a node records jobs, how long it keeps them, and where it sends them.</summary>
public sealed class AccountingOptions
{
    /// <summary>Records every job (default on); off keeps only the node's counters.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long job records stay in the node's database (<c>--job-retention</c>, default 7 days).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The most job records kept; the oldest go first (<c>--job-retention-rows</c>, default one million).</summary>
    public long RetentionRows { get; set; } = 1_000_000;

    /// <summary>The collector node's HTTP base address (<c>--collector http://HOST:3633</c>), or null.</summary>
    public Uri? Collector { get; set; }

    /// <summary>The pause between pushes to the collector when nothing new was pushed.</summary>
    public TimeSpan PushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The most records sent in one POST to the collector.</summary>
    public int PushBatch { get; set; } = 500;
}
