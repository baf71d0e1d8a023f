namespace Kiln.Server.Grpc;

/// <summary>
/// One read from a gRPC request stream: a message, the clean end of the stream (no message, OK
/// status), or an error status that ends the call.
/// </summary>
internal readonly record struct GrpcMessage<T>(T? Message, GrpcStatus Status)
    where T : class
{
    /// <summary>True when a message was read.</summary>
    public bool IsMessage => Message is not null;

    /// <summary>True when the stream ended cleanly between messages.</summary>
    public bool IsEnd => Message is null && Status.IsOk;

    /// <summary>A read that produced a message.</summary>
    public static GrpcMessage<T> Of(T message) => new(message, GrpcStatus.Ok);

    /// <summary>The clean end of the stream.</summary>
    public static GrpcMessage<T> End => new(null, GrpcStatus.Ok);

    /// <summary>A read that failed.</summary>
    public static GrpcMessage<T> Error(GrpcStatusCode code, string message) => new(null, new GrpcStatus(code, message));
}
