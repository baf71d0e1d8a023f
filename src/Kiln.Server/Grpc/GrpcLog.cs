using Microsoft.Extensions.Logging;

namespace Kiln.Server.Grpc;

/// <summary>The gRPC front end's log messages.</summary>
internal static partial class GrpcLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "gRPC call {Path} failed")]
    public static partial void CallFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "gRPC call {Path} ended with {Code}: {Message}")]
    public static partial void CallEnded(ILogger logger, string path, GrpcStatusCode code, string message);
}
