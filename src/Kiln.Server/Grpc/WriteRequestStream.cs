using Google.Bytestream;

namespace Kiln.Server.Grpc;

/// <summary>
/// The data of a ByteStream.Write call as a read-only stream, so the store verifies and writes it
/// while it arrives. It checks each request as it goes (resource name unchanged or empty, offsets
/// contiguous, no more data than the digest's size, <c>finish_write</c> before the end). A broken
/// request is kept in <see cref="Error"/> and fails the read with an IOException, as a dropped
/// connection does, so the store keeps nothing, even when the bytes so far were complete.
/// </summary>
internal sealed class WriteRequestStream : Stream
{
    private readonly GrpcCall _call;
    private readonly string _resourceName;
    private readonly long _expectedSize;
    private ReadOnlyMemory<byte> _pending;
    private long _received;
    private bool _finished;

    /// <summary>Starts with the first request, already read and checked by the caller.</summary>
    public WriteRequestStream(GrpcCall call, WriteRequest first, long expectedSize)
    {
        _call = call;
        _resourceName = first.ResourceName;
        _expectedSize = expectedSize;
        Accept(first);
    }

    /// <summary>What went wrong with the request stream, or OK.</summary>
    public GrpcStatus Error { get; private set; } = GrpcStatus.Ok;

    /// <summary>True once a request with <c>finish_write</c> was accepted.</summary>
    public bool Finished => _finished;

    /// <summary>Bytes of data received so far.</summary>
    public long Received => _received;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_pending.IsEmpty)
        {
            if (!Error.IsOk)
            {
                throw new IOException($"the Write request stream is broken: {Error}");
            }

            if (_finished)
            {
                return 0;
            }

            var next = await _call.ReadMessageAsync(WriteRequest.Parser, cancellationToken).ConfigureAwait(false);
            if (next.Message is { } request)
            {
                if (request.ResourceName.Length > 0 && request.ResourceName != _resourceName)
                {
                    Error = GrpcStatus.Of(GrpcStatusCode.InvalidArgument, "resource_name changed within one Write call");
                    continue;
                }

                if (request.WriteOffset != _received)
                {
                    Error = GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"write_offset is {request.WriteOffset}, expected {_received}");
                    continue;
                }

                Accept(request);
            }
            else
            {
                Error = next.IsEnd
                    ? GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"the Write stream ended after {_received} bytes without finish_write")
                    : next.Status;
            }
        }

        var n = Math.Min(buffer.Length, _pending.Length);
        _pending[..n].CopyTo(buffer);
        _pending = _pending[n..];
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Synchronous reads would block a Kestrel thread on the network: the store reads asynchronously.</summary>
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("WriteRequestStream is read asynchronously");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void Accept(WriteRequest request)
    {
        _received += request.Data.Length;
        if (_received > _expectedSize)
        {
            // Data past the digest's size can never verify: stop reading instead of draining it.
            Error = GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"more data ({_received} bytes so far) than the digest's size {_expectedSize}");
            _pending = ReadOnlyMemory<byte>.Empty;
            return;
        }

        _pending = request.Data.Memory;
        _finished = request.FinishWrite;
    }
}
