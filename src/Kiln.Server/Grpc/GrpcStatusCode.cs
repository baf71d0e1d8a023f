namespace Kiln.Server.Grpc;

/// <summary>The gRPC status codes, as carried in the <c>grpc-status</c> trailer.</summary>
public enum GrpcStatusCode
{
    /// <summary>Success.</summary>
    Ok = 0,

    /// <summary>The call was cancelled, usually by the caller.</summary>
    Cancelled = 1,

    /// <summary>An error with no better code.</summary>
    Unknown = 2,

    /// <summary>The request is malformed or names something impossible.</summary>
    InvalidArgument = 3,

    /// <summary>The deadline passed before the call completed.</summary>
    DeadlineExceeded = 4,

    /// <summary>The requested entity (blob, action result) is absent.</summary>
    NotFound = 5,

    /// <summary>The entity to create is already there.</summary>
    AlreadyExists = 6,

    /// <summary>The caller may not do this.</summary>
    PermissionDenied = 7,

    /// <summary>A size limit or quota is exceeded.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in a state the call needs.</summary>
    FailedPrecondition = 9,

    /// <summary>The call was aborted (concurrency conflict).</summary>
    Aborted = 10,

    /// <summary>An offset or size lies outside the valid range.</summary>
    OutOfRange = 11,

    /// <summary>The method is not served here.</summary>
    Unimplemented = 12,

    /// <summary>An invariant broke: framing errors, server bugs.</summary>
    Internal = 13,

    /// <summary>The service is unavailable for now; retry.</summary>
    Unavailable = 14,

    /// <summary>Data was lost or corrupted.</summary>
    DataLoss = 15,

    /// <summary>The caller has no valid credentials.</summary>
    Unauthenticated = 16,
}
