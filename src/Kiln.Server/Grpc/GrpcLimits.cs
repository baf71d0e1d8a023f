namespace Kiln.Server.Grpc;

/// <summary>Size limits of the gRPC front end.</summary>
public static class GrpcLimits
{
    /// <summary>
    /// The largest request message accepted (prefix length checked before buffering). Batch uploads
    /// carry up to <see cref="MaxBatchTotalSize"/> of data plus per-blob digests; 8 MiB leaves room.
    /// </summary>
    public const int MaxReceiveMessageSize = 8 << 20;

    /// <summary>
    /// The combined blob size a batch call may move, as advertised in the capabilities. grpc-java
    /// clients (Bazel) refuse inbound messages over 4 MiB by default, so a BatchReadBlobs answer must
    /// stay below that with its per-blob overhead: 4,000,000 leaves about 190 KiB for it.
    /// </summary>
    public const int MaxBatchTotalSize = 4_000_000;

    /// <summary>The largest response message sent (grpc-java's default inbound limit).</summary>
    public const int MaxSendMessageSize = 4 << 20;

    /// <summary>
    /// Data per ByteStream ReadResponse. Bazel's HTTP/2 window is 1 MiB (its SETTINGS frame), so
    /// 64 KiB chunks keep 16 messages in flight while each stays a small allocation.
    /// </summary>
    public const int ReadChunkSize = 64 << 10;

    /// <summary>The largest Tree blob read to find the files an output directory references.</summary>
    public const int MaxTreeSize = 64 << 20;
}
