using System.Buffers;
using System.Threading.Channels;
using Kiln.Core.Compile;

namespace Kiln.Server.Compile;

/// <summary>
/// A compile whose compiler started before its input was complete: a JOB sent ahead of its input
/// (docs/protocol.md, "JOB ahead"). The session hands it the input as INPUT frames bring it
/// (<see cref="Feed"/>), which reaches the compiler's standard input, then either completes it or
/// abandons it. The compiler's start (the driver, cc1 and as: about 10 ms for gcc here) so overlaps
/// the client's preprocessor instead of following it.
/// </summary>
public sealed class AheadCompile
{
    private readonly Channel<byte[]> _input = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _abandoned = new();
    private int _ended;

    internal AheadCompile()
    {
    }

    /// <summary>Bytes of input fed so far.</summary>
    public long Length { get; private set; }

    /// <summary>The input so far, in order, for the compiler's standard input.</summary>
    internal ChannelReader<byte[]> Input => _input.Reader;

    /// <summary>Fires when the job is abandoned: its compiler is stopped.</summary>
    internal CancellationToken Abandoned => _abandoned.Token;

    /// <summary>The run: its result once the compiler exits, or null when nothing ran and the job must go the ordinary way.</summary>
    internal Task<CompileResult?> Run { get; set; } = Task.FromResult<CompileResult?>(null);

    /// <summary>Passes the next bytes of input on to the compiler.</summary>
    public void Feed(ReadOnlySequence<byte> payload)
    {
        if (payload.IsEmpty || Volatile.Read(ref _ended) != 0)
        {
            return;
        }

        Length += payload.Length;
        _input.Writer.TryWrite(payload.ToArray());
    }

    /// <summary>
    /// Ends the input: the compiler reads to its end and exits. The result, or null when nothing ran
    /// (the sandbox it was to run in had died): the caller then runs the job the ordinary way, with
    /// the whole input it kept.
    /// </summary>
    public Task<CompileResult?> CompleteAsync()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            _input.Writer.TryComplete();
        }

        return Run;
    }

    /// <summary>Drops the job: its compiler is killed, its slot and directory freed; nothing is answered for it.</summary>
    public void Abandon()
    {
        // Cancelled first: the compiler must be killed, never handed the end of a partial input (gcc
        // would compile it, successfully if it ends between declarations).
        _abandoned.Cancel();
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            _input.Writer.TryComplete();
        }
    }

    /// <summary>True once <see cref="Abandon"/> was called.</summary>
    internal bool IsAbandoned => _abandoned.IsCancellationRequested;
}
