namespace Kiln.Core.Protocol;

/// <summary>What the client read back for one job: exactly one of a result, BUSY, ERROR, or a failure.</summary>
internal readonly record struct KilnClientReply(KilnResult? Result, string? BusyReason, KilnError? Error, string? Failure, bool NothingReceived)
{
    /// <summary>True when the node said it answered from its result cache (RESULT's FromCache flag).</summary>
    public bool FromCache { get; init; }

    /// <summary>True when the connection may carry another job after this reply.</summary>
    public bool KeepsConnection => Failure is null && (Error is null || !KilnProtocol.ClosesConnection(Error.Code));

    public static KilnClientReply Failed(string failure, bool nothingReceived = false) => new(null, null, null, failure, nothingReceived);
}
