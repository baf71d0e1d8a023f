using System.Buffers;
using Kiln.Core.Protocol;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Protocol;

/// <summary>Reading frames, and ending a connection with ERROR.</summary>
public sealed partial class KilnSession
{
    /// <summary>Bytes drained after a connection error before the session gives up on a clean close.</summary>
    private const int MaxLingerBytes = 1 << 20;

    /// <summary>How long frames are still read after the connection's token fired (the peer closed, or the node stops).</summary>
    private static readonly TimeSpan s_drainAfterClose = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Reads one whole frame. The header is checked (type, flags, reserved bytes, the length cap for
    /// its type) as soon as its 8 bytes are in, before any of the payload is waited for; the whole
    /// frame must arrive within <paramref name="limit"/>.
    /// </summary>
    private async ValueTask<KilnFrameRead> ReadFrameAsync(CancellationTokenSource deadline, TimeSpan limit, CancellationToken cancellationToken)
    {
        deadline.CancelAfter(limit);
        var buffered = true;
        try
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result;
                try
                {
                    // A peer that sends a last frame (RECORD) and closes may have its close cancel the
                    // connection's token before the frame is read, and the frame still counts: what is
                    // buffered is read first, and what is still in the socket (or in TLS, which
                    // decrypts only on a read) is read for a moment more. Only on the first pass:
                    // after an incomplete frame was examined, TryRead would return the same bytes again.
                    if (!buffered || !_reader.TryRead(out result))
                    {
                        if (cancellationToken.IsCancellationRequested)
                        {
                            using var drain = new CancellationTokenSource(s_drainAfterClose);
                            result = await _reader.ReadAsync(drain.Token).ConfigureAwait(false);
                        }
                        else
                        {
                            result = await _reader.ReadAsync(deadline.Token).ConfigureAwait(false);
                        }
                    }

                    buffered = false;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return new KilnFrameRead(KilnFrameReadKind.Refused, default, default, default,
                        new KilnError(KilnErrorCode.ReadTimeout, $"no complete frame within {limit.TotalSeconds:0.#} s ({Waiting()}); the node closes stalled connections"));
                }

                var buffer = result.Buffer;
                if (buffer.Length >= KilnFrameHeader.Size)
                {
                    buffer.Slice(0, KilnFrameHeader.Size).CopyTo(_header);
                    if (!KilnFrameHeader.TryRead(_header, KilnProtocol.MaxClientPayload, out var header, out var error))
                    {
                        _reader.AdvanceTo(buffer.Start, buffer.End);
                        return new KilnFrameRead(KilnFrameReadKind.Refused, header, default, default, error);
                    }

                    var total = KilnFrameHeader.Size + (long)header.Length;
                    if (buffer.Length >= total)
                    {
                        return new KilnFrameRead(KilnFrameReadKind.Frame, header,
                            buffer.Slice(KilnFrameHeader.Size, header.Length), buffer.GetPosition(total), null);
                    }

                    if (result.IsCompleted)
                    {
                        _reader.AdvanceTo(buffer.End);
                        return new KilnFrameRead(KilnFrameReadKind.Refused, header, default, default, new KilnError(KilnErrorCode.MalformedFrame,
                            $"the connection ended inside a {KilnFrameHeader.Name(header.Type)} frame ({buffer.Length - KilnFrameHeader.Size} of {header.Length} payload bytes)"));
                    }
                }
                else if (result.IsCompleted)
                {
                    _reader.AdvanceTo(buffer.End);
                    return buffer.Length == 0
                        ? new KilnFrameRead(KilnFrameReadKind.EndOfStream, default, default, default, null)
                        : new KilnFrameRead(KilnFrameReadKind.Refused, default, default, default, new KilnError(KilnErrorCode.MalformedFrame,
                            $"the connection ended inside a frame header ({buffer.Length} of {KilnFrameHeader.Size} bytes)"));
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    private string Waiting() => _phase switch
    {
        KilnSessionPhase.AwaitingHello => "waiting for HELLO",
        KilnSessionPhase.Idle => "waiting for the next JOB",
        _ => $"waiting for INPUT after {_received} of {_job?.InputSize} bytes",
    };

    /// <summary>
    /// Ends the connection for a protocol error: sends ERROR when the peer still reads, then drains
    /// what the peer sends for a moment so the ERROR is read before the socket closes.
    /// </summary>
    private async Task FailAsync(KilnError error, bool countAsProtocolError = true)
    {
        if (countAsProtocolError)
        {
            _executor.Counters.CountProtocolError();
            LogProtocolError(_logger, _peer, error.Code, error.Message);
            if (error.Code != KilnErrorCode.Unauthorized)
            {
                // A refused HELLO is already in the audit log, with its reason.
                _access?.Record("connection", Security.AuditEvent.Refused, _identity, $"{error.Code}: {error.Message}");
            }
        }
        else
        {
            LogConnectionLost(_logger, _peer, error.Message);
        }

        // Bounded by the linger time alone, not by the connection's token: Kestrel cancels that when
        // the peer half-closes, and a peer that sent half a frame and then its FIN must still read why
        // it is refused (the race lost the ERROR about one time in ten, KilnHostileInputTests).
        using var linger = new CancellationTokenSource(_options.Linger);
        try
        {
            error.WriteFrame(_writer);
            await _writer.FlushAsync(linger.Token).ConfigureAwait(false);
            long drained = 0;
            while (drained < MaxLingerBytes)
            {
                var result = await _reader.ReadAsync(linger.Token).ConfigureAwait(false);
                drained += result.Buffer.Length;
                _reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kiln protocol: closing {Peer}: {Code} {Message}")]
    private static partial void LogProtocolError(ILogger logger, string peer, KilnErrorCode code, string message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Kiln protocol: {Peer} disconnected: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string peer, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Kiln job for {Client}: {Source} refused ({Code}): {Message}")]
    private static partial void LogJobRefused(ILogger logger, string client, string source, KilnErrorCode code, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Kiln job for {Client}: {Source} with {Compiler} answered from the cache")]
    private static partial void LogJobCached(ILogger logger, string client, string source, string compiler);

    [LoggerMessage(Level = LogLevel.Information, Message = "Kiln job for {Client}: {Source} with {Compiler} exited {ExitCode} ({InputBytes} input bytes)")]
    private static partial void LogJobDone(ILogger logger, string client, string source, string compiler, int exitCode, int inputBytes);
}
