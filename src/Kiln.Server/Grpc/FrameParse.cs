namespace Kiln.Server.Grpc;

/// <summary>What <see cref="GrpcFraming.TryReadFrame"/> found.</summary>
public enum FrameParse
{
    /// <summary>A whole uncompressed message is there.</summary>
    Complete,

    /// <summary>The prefix or body is not complete yet.</summary>
    NeedMore,

    /// <summary>The compressed flag is set (this server negotiates no compression).</summary>
    Compressed,

    /// <summary>The flag byte is neither 0 nor 1.</summary>
    BadFlag,

    /// <summary>The declared length is above the limit.</summary>
    TooLarge,
}
