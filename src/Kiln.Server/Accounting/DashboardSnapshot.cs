namespace Kiln.Server.Accounting;

/// <summary>Everything the dashboard shows, as <c>/api/dashboard</c> returns it and <c>/api/events</c> streams it.</summary>
public sealed record DashboardSnapshot
{
    /// <summary>Increases with every snapshot the node builds.</summary>
    public required long Sequence { get; init; }

    /// <summary>This node's name.</summary>
    public required string Node { get; init; }

    /// <summary>When the snapshot was taken, in milliseconds since 1970.</summary>
    public required long TimeMs { get; init; }

    /// <summary>This node and the nodes that report to it as a collector.</summary>
    public required List<NodeReport> Nodes { get; init; }

    /// <summary>Jobs running or queued on this node now.</summary>
    public required List<RunningJob> Running { get; init; }

    /// <summary>The latest finished jobs, newest first.</summary>
    public required List<JobRecord> Recent { get; init; }

    /// <summary>Accounting totals (by user, by node, refusals by reason).</summary>
    public required AccountingSummary Accounting { get; init; }

    /// <summary>Hit rate per sampling interval, oldest first.</summary>
    public required List<HitRatePoint> HitRate { get; init; }

    /// <summary>Contested actions (empty until attestations exist).</summary>
    public required IReadOnlyList<ContestedAction> Contested { get; init; }
}
