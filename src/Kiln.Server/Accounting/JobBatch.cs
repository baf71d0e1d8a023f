namespace Kiln.Server.Accounting;

/// <summary>What a node POSTs to its collector's <c>/api/jobs</c>: its state now and a batch of its job records.</summary>
public sealed record JobBatch
{
    /// <summary>The sending node's state.</summary>
    public required NodeReport Node { get; init; }

    /// <summary>Job records, oldest first.</summary>
    public required List<JobRecord> Records { get; init; }
}
