using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;

namespace Kiln.Core.Ssh;

/// <summary>
/// Sends compiles to <c>@host</c> entries: runs the user's own OpenSSH client as
/// <c>ssh host kiln serve --stdio</c> and speaks the Kiln protocol on its standard input and output,
/// in the clear inside the ssh channel, which authenticates both ends and encrypts. Connection sharing
/// (<c>ControlMaster=auto</c>, a socket in <c>$KILN_DIR/ssh</c>, <c>ControlPersist</c>) makes every
/// job after the first a new channel on one open connection. Every failure (ssh cannot connect, the
/// remote <c>kiln</c> is missing, the session ends early) becomes <see cref="RemoteStatus.Failed"/>
/// with ssh's own words; only the caller's cancellation throws.
/// </summary>
public sealed class KilnSshClient(SshClientOptions options) : IRemoteCompileClient
{
    /// <summary>Bytes of ssh's standard error kept for the failure message.</summary>
    private const int StderrTail = 4096;

    /// <inheritdoc/>
    public async Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        var node = host.Display;
        if (host.Kind != HostKind.Ssh)
        {
            return RemoteCompileReply.Fail($"node {node}: not an ssh host");
        }

        if (host.Protocol != HostProtocol.Kiln)
        {
            return RemoteCompileReply.Fail($"node {node}: ssh mode speaks the Kiln protocol only; remove ',lzo', ',cpp' or ',distcc' from the entry");
        }

        var input = request.Preprocessed;
        var job = new KilnJob
        {
            InputDigest = Digest.FromBytes(input.Span),
            InputSize = input.Length,
            Language = request.Language,
            Compiler = request.Compiler,
            Arguments = request.Arguments,
            SourceName = request.SourceName,
            WorkingDirectory = request.WorkingDirectory,
            Locale = request.Locale,
        };
        var invalid = job.Validate();
        if (invalid is not null)
        {
            return RemoteCompileReply.Fail($"node {node}: {invalid}");
        }

        var argv = SshCommandLine.For(host, options);
        if (options.ControlDirectory is { } controlDirectory)
        {
            // ssh refuses a control socket in a directory others can write; 0700 as for ~/.ssh.
            Directory.CreateDirectory(controlDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var info = new ProcessStartInfo(argv[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        for (var i = 1; i < argv.Count; i++)
        {
            info.ArgumentList.Add(argv[i]);
        }

        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return RemoteCompileReply.Fail($"node {node}: cannot run '{argv[0]}' (KILN_SSH): {e.Message}");
        }

        using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        io.CancelAfter(options.IoTimeout);
        var stderrTask = ReadTailAsync(process.StandardError.BaseStream, io.Token);
        var stdin = process.StandardInput.BaseStream;
        KilnClientReply reply;
        try
        {
            var replyTask = ReadReplyAsync(process.StandardOutput.BaseStream, io.Token);
            try
            {
                await WriteJobAsync(stdin, job, input, io.Token).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // The session ended while the job went out (refused early, or ssh failed): the reply or ssh's words explain.
            }

            reply = await replyTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            reply = KilnClientReply.Failed($"no reply within {options.IoTimeout.TotalSeconds:0.#} s");
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }
        finally
        {
            // The end of input ends the remote session, and with it this ssh process.
            CloseQuietly(stdin);
        }

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(exit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
        }

        if (reply.Failure is not null)
        {
            io.CancelAfter(TimeSpan.FromSeconds(1));
            var said = (await stderrTask.ConfigureAwait(false)).Trim();
            var exitCode = process.HasExited ? process.ExitCode : -1;
            var how = exitCode == 255 ? "ssh could not connect or log in" : exitCode == 127 ? "the remote command was not found" : $"ssh exited {exitCode}";
            reply = reply with { Failure = $"{reply.Failure} ({how}{(said.Length > 0 ? ": " + LastLines(said) : "")})" };
        }

        return KilnProtocolClient.ToReply(node, reply);
    }

    /// <summary>HELLO, JOB and the input in INPUT frames of at most <see cref="KilnProtocol.MaxInputChunk"/> bytes.</summary>
    private async Task WriteJobAsync(Stream stdin, KilnJob job, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.None, "", options.ClientName);
        var control = new byte[hello.FrameLength + job.FrameLength];
        var position = hello.WriteFrame(control);
        position += job.WriteFrame(control.AsSpan(position));
        await stdin.WriteAsync(control.AsMemory(0, position), cancellationToken).ConfigureAwait(false);
        var header = new byte[KilnFrameHeader.Size];
        var offset = 0;
        do
        {
            var length = Math.Min(KilnProtocol.MaxInputChunk, input.Length - offset);
            var last = offset + length == input.Length;
            new KilnFrameHeader(KilnFrameType.Input, last ? KilnFrameFlags.Last : KilnFrameFlags.None, length).Write(header);
            await stdin.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await stdin.WriteAsync(input.Slice(offset, length), cancellationToken).ConfigureAwait(false);
            offset += length;
        }
        while (offset < input.Length);

        await stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>WELCOME, then RESULT, BUSY or ERROR. The end of the stream and malformed frames become failures.</summary>
    private static async Task<KilnClientReply> ReadReplyAsync(Stream stdout, CancellationToken cancellationToken)
    {
        var received = false;
        try
        {
            var (type, payload) = await ReadFrameAsync(stdout, cancellationToken).ConfigureAwait(false);
            received = true;
            if (type == KilnFrameType.Error)
            {
                return KilnProtocolClient.ParseError(payload);
            }

            if (type != KilnFrameType.Welcome || !KilnWelcome.TryParse(payload, out var welcome, out _)
                || welcome.Version is < KilnProtocol.MinVersion or > KilnProtocol.Version)
            {
                return KilnClientReply.Failed($"protocol error: expected a WELCOME this client understands, got {KilnFrameHeader.Name(type)}");
            }

            var (replyType, reply) = await ReadFrameAsync(stdout, cancellationToken).ConfigureAwait(false);
            return replyType switch
            {
                KilnFrameType.Result => KilnResult.TryParse(reply, out var result, out var resultError)
                    ? new KilnClientReply(result, null, null, null, false)
                    : KilnClientReply.Failed($"protocol error: {resultError.Message}"),
                KilnFrameType.Busy => KilnBusy.TryParse(reply, out var busy, out var busyError)
                    ? new KilnClientReply(null, busy.Reason, null, null, false)
                    : KilnClientReply.Failed($"protocol error: {busyError.Message}"),
                KilnFrameType.Error => KilnProtocolClient.ParseError(reply),
                _ => KilnClientReply.Failed($"protocol error: expected RESULT, BUSY or ERROR, got {KilnFrameHeader.Name(replyType)}"),
            };
        }
        catch (EndOfStreamException)
        {
            return KilnClientReply.Failed(received ? "the ssh session ended before the job's reply" : "the ssh session ended without a reply", nothingReceived: !received);
        }
        catch (IOException e)
        {
            return KilnClientReply.Failed($"the ssh session broke: {e.Message}", nothingReceived: !received);
        }
        catch (KilnProtocolViolation e)
        {
            return KilnClientReply.Failed($"protocol error: {e.Message}");
        }
    }

    private static async Task<(KilnFrameType Type, ReadOnlyMemory<byte> Payload)> ReadFrameAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[KilnFrameHeader.Size];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (!KilnFrameHeader.TryRead(header, KilnProtocolClient.MaxServerPayload, out var frame, out var error))
        {
            throw new KilnProtocolViolation(error.Message);
        }

        if (frame.Length == 0)
        {
            return (frame.Type, ReadOnlyMemory<byte>.Empty);
        }

        var payload = new byte[frame.Length];
        await stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        return (frame.Type, payload);
    }

    /// <summary>Reads ssh's standard error to its end, keeping the last <see cref="StderrTail"/> bytes.</summary>
    private static async Task<string> ReadTailAsync(Stream stderr, CancellationToken cancellationToken)
    {
        var tail = new byte[StderrTail];
        var kept = 0;
        var chunk = new byte[4096];
        try
        {
            int read;
            while ((read = await stderr.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (kept + read > tail.Length)
                {
                    var drop = Math.Min(kept, kept + read - tail.Length);
                    tail.AsSpan(drop, kept - drop).CopyTo(tail);
                    kept -= drop;
                    read = Math.Min(read, tail.Length);
                }

                chunk.AsSpan(0, read).CopyTo(tail.AsSpan(kept));
                kept += read;
            }
        }
        catch (OperationCanceledException)
        {
            // Whatever ssh said so far is enough for the message.
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // ssh ended and its pipe went with it.
        }

        return Encoding.UTF8.GetString(tail, 0, kept);
    }

    private static string LastLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(" / ", lines.AsSpan(Math.Max(0, lines.Length - 3)).ToArray());
    }

    private static void CloseQuietly(Stream stream)
    {
        try
        {
            stream.Dispose();
        }
        catch (IOException)
        {
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
