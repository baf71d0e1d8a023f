namespace Kiln.Tests.Cas;

/// <summary>
/// A read-only, non-seekable stream over bytes that stops after <c>pauseAt</c> bytes until
/// <see cref="Resume"/> is called, so a test can look at the store while a write is half done.
/// </summary>
public sealed class PausingStream(byte[] data, int pauseAt) : Stream
{
    private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;

    /// <summary>Completes when the reader has consumed <c>pauseAt</c> bytes and waits.</summary>
    public Task Paused => _paused.Task;

    public void Resume() => _resume.TrySetResult();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position == pauseAt)
        {
            _paused.TrySetResult();
            await _resume.Task.WaitAsync(cancellationToken);
        }

        var end = _position < pauseAt ? pauseAt : data.Length;
        var n = Math.Min(buffer.Length, end - _position);
        data.AsSpan(_position, n).CopyTo(buffer.Span);
        _position += n;
        return n;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("read asynchronously");

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
