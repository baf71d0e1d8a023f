namespace Kiln.Server.Accounting;

/// <summary>
/// <c>/api/accounting</c>: the node's running totals (kept apart from the job records, so retention
/// does not change them) by user and by node, refusals by reason, and the writer's progress.
/// </summary>
public sealed record AccountingSummary
{
    /// <summary>This node's name.</summary>
    public required string Node { get; init; }

    /// <summary>Records handed to the writer since the node started.</summary>
    public long Enqueued { get; init; }

    /// <summary>Records written to the database since the node started.</summary>
    public long Written { get; init; }

    /// <summary>Records dropped because the writer's queue was full.</summary>
    public long Dropped { get; init; }

    /// <summary>This node's records the collector has acknowledged (since the database was created).</summary>
    public long Pushed { get; init; }

    /// <summary>Totals per node and identity.</summary>
    public List<AccountingTotal> Totals { get; init; } = [];

    /// <summary>Totals per identity over all nodes.</summary>
    public List<AccountingTotal> ByUser { get; init; } = [];

    /// <summary>Totals per node over all identities.</summary>
    public List<AccountingTotal> ByNode { get; init; } = [];

    /// <summary>Refusals by reason.</summary>
    public List<RefusalCount> Refusals { get; init; } = [];
}
