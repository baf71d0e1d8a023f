using Build.Bazel.Remote.Execution.V2;
using Kiln.Core.Cas;

namespace Kiln.Server.Grpc;

/// <summary>Checks and status mappings shared by the REAPI services.</summary>
internal static class RequestChecks
{
    /// <summary>
    /// OK when the request's digest function is SHA-256 or left unset (which means "inferred from
    /// the hash length", here always SHA-256); INVALID_ARGUMENT otherwise.
    /// </summary>
    public static GrpcStatus DigestFunctionServed(DigestFunction.Types.Value function) =>
        function is DigestFunction.Types.Value.Unknown or DigestFunction.Types.Value.Sha256
            ? GrpcStatus.Ok
            : GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"digest function {function} is not served (only SHA256)");

    /// <summary>The gRPC status a store write ends with.</summary>
    public static GrpcStatus FromPut(PutResult result, Kiln.Core.Hashing.Digest expected) => result.Status switch
    {
        PutStatus.Stored or PutStatus.AlreadyPresent => GrpcStatus.Ok,
        PutStatus.DigestMismatch => GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"data does not hash to {expected}{Detail(result)}"),
        PutStatus.SizeMismatch => GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"data is not {expected.Size} bytes long{Detail(result)}"),
        PutStatus.TooLarge => GrpcStatus.Of(GrpcStatusCode.ResourceExhausted, $"blob {expected} is larger than the store accepts{Detail(result)}"),
        PutStatus.NoSpace => GrpcStatus.Of(GrpcStatusCode.ResourceExhausted, $"the store has no space for {expected}{Detail(result)}"),
        _ => GrpcStatus.Of(GrpcStatusCode.Internal, $"store write ended with {result.Status}"),
    };

    /// <summary>The protobuf form of a status, for per-blob answers in batch calls.</summary>
    public static Google.Rpc.Status ToMessage(GrpcStatus status) => new() { Code = (int)status.Code, Message = status.Message };

    private static string Detail(PutResult result) => string.IsNullOrEmpty(result.Message) ? "" : $" ({result.Message})";
}
