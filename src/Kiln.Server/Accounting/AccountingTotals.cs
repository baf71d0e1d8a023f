namespace Kiln.Server.Accounting;

/// <summary>Accounting totals of one identity on one node (or, with an empty node or identity, summed over them).</summary>
public sealed record AccountingTotal
{
    /// <summary>The node, or empty when summed over nodes.</summary>
    public string Node { get; init; } = "";

    /// <summary>The identity, or empty when summed over identities.</summary>
    public string Identity { get; init; } = "";

    /// <summary>Job records counted.</summary>
    public long Jobs { get; init; }

    /// <summary>Jobs whose compiler exited non-zero.</summary>
    public long Failed { get; init; }

    /// <summary>Jobs refused.</summary>
    public long Refused { get; init; }

    /// <summary>CPU milliseconds.</summary>
    public long CpuMs { get; init; }

    /// <summary>Wall milliseconds.</summary>
    public long WallMs { get; init; }

    /// <summary>Milliseconds waited for a slot.</summary>
    public long QueueMs { get; init; }

    /// <summary>Bytes received.</summary>
    public long BytesIn { get; init; }

    /// <summary>Bytes sent.</summary>
    public long BytesOut { get; init; }
}
