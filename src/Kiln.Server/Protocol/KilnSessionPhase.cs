namespace Kiln.Server.Protocol;

/// <summary>Where a Kiln protocol session is in its state machine (docs/protocol.md).</summary>
internal enum KilnSessionPhase
{
    /// <summary>Waiting for HELLO.</summary>
    AwaitingHello,

    /// <summary>Between jobs: waiting for JOB (or the end of the connection).</summary>
    Idle,

    /// <summary>Collecting the current job's INPUT frames.</summary>
    ReceivingInput,

    /// <summary>The job is answered already; INPUT frames up to the LAST one are read and dropped.</summary>
    DiscardingInput,
}
