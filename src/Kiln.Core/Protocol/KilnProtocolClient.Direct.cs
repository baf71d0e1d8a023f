using System.Net.Sockets;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Core.Protocol;

/// <summary>
/// Remote direct mode on the Kiln protocol: LOOKUP (behind HELLO on a new connection, without
/// waiting for WELCOME), asking for the newest entry's result with the MANIFEST (WithResult); FETCH of
/// the entry whose files match when that was not it; all on one connection. RECORD after a job on
/// that job's connection.
/// </summary>
public sealed partial class KilnProtocolClient
{
    /// <inheritdoc/>
    public async Task<RemoteDirectHit?> LookUpDirectAsync(HostSpec host, ActionKey manifestKey, Func<KilnManifestEntry, bool> matches,
        CancellationToken cancellationToken)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln || manifestKey.IsNone)
        {
            return null;
        }

        var node = host.Display;
        var sync = Synchronous(host);
        var connection = TakeIdle(node);
        if (connection is null && sync)
        {
            try
            {
                connection = ConnectSynchronously(host);
            }
            catch (SocketException)
            {
                return null;
            }
        }

        if (connection is null)
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            connectTimeout.CancelAfter(_options.ConnectTimeout);
            try
            {
                connection = await ConnectAsync(host, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
            catch (Exception e) when (e is SocketException or IOException or KilnTlsRefusal)
            {
                return null;
            }
        }

        // On the synchronous way the socket's own timeouts bound each read, and no timer (nor its thread) is started.
        using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!sync)
        {
            io.CancelAfter(_options.IoTimeout);
        }
        else
        {
            connection.BlockingTimeout(_options.IoTimeout);
        }

        using var abort = io.Token.UnsafeRegister(static c => ((KilnClientConnection)c!).Dispose(), connection);
        var keep = false;
        try
        {
            var hello = connection.Welcome is null;
            var lookup = KilnManifest.KeyFrame(KilnFrameType.Lookup, manifestKey, KilnFrameFlags.WithResult);
            if (hello)
            {
                lookup = WithHello(lookup);
            }

            await WriteAsync(connection, lookup, sync, io.Token).ConfigureAwait(false);
            if (hello)
            {
                var (type, _, payload) = await ReadFrameAsync(connection, sync, io.Token).ConfigureAwait(false);
                if (type != KilnFrameType.Welcome || !KilnWelcome.TryParse(payload, out var welcome, out _)
                    || welcome.Version is < KilnProtocol.MinVersion or > KilnProtocol.Version)
                {
                    return null;
                }

                connection.Welcome = welcome;
                Remember(node, welcome);
            }

            var (replyType, replyFlags, reply) = await ReadFrameAsync(connection, sync, io.Token).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "manifest");
            if (replyType != KilnFrameType.Manifest || !KilnManifest.TryParse(reply, out var entries, out _))
            {
                // An older node answers ERROR UnknownFrameType and closes; a newer one without a cache answers NotCached.
                keep = replyType == KilnFrameType.Error && KilnError.TryParse(reply, out var refusal, out _) && !KilnProtocol.ClosesConnection(refusal.Code);
                return null;
            }

            // The newest entry's result, sent behind the MANIFEST: read whether or not it is used, so
            // the connection is back at a frame boundary.
            (KilnFrameType Type, KilnFrameFlags Flags, ReadOnlyMemory<byte> Payload)? eager = null;
            if ((replyFlags & KilnFrameFlags.WithResult) != 0)
            {
                if (entries.Count == 0)
                {
                    return null;
                }

                eager = await ReadFrameAsync(connection, sync, io.Token).ConfigureAwait(false);
            }

            keep = eager is null || eager.Value.Type == KilnFrameType.Result;
            var match = entries.FirstOrDefault(matches);
            if (match is null)
            {
                return null;
            }

            keep = false;
            var (resultType, resultFlags, result) = eager is { Type: KilnFrameType.Result } sent && ReferenceEquals(match, entries[0])
                ? sent
                : await FetchAsync(connection, match, sync, io.Token).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "fetched");
            var answer = resultType switch
            {
                KilnFrameType.Result => KilnResult.TryParse(result, out var parsed, out _)
                    ? new KilnClientReply(parsed, null, null, null, false) { FromCache = (resultFlags & KilnFrameFlags.FromCache) != 0 }
                    : KilnClientReply.Failed("malformed RESULT"),
                KilnFrameType.Error => ParseError(result),
                _ => KilnClientReply.Failed("unexpected frame"),
            };
            keep = answer.KeepsConnection;
            return ToReply(node, answer) is { Status: RemoteStatus.Completed, Outcome: { ExitCode: 0 } outcome } ? new RemoteDirectHit(match, outcome) : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception e) when (e is SocketException or IOException or EndOfStreamException or ObjectDisposedException or KilnProtocolViolation)
        {
            return null;
        }
        finally
        {
            if (keep && !io.IsCancellationRequested)
            {
                ReturnIdle(node, connection);
            }
            else
            {
                connection.Dispose();
            }
        }
    }

    /// <inheritdoc/>
    public async Task RecordAsync(HostSpec host, ActionKey manifestKey, KilnManifestEntry entry, CancellationToken cancellationToken)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln
            || TakeIdle(host.Display) is not { } connection)
        {
            return;
        }

        if (connection.Welcome is not { } welcome || (welcome.Capabilities & KilnCapabilities.Manifests) == 0)
        {
            ReturnIdle(host.Display, connection);
            return;
        }

        if (entry.Files.Count > KilnManifestEntry.MaxFiles || ActionKey.Length + entry.EncodedLength > KilnProtocol.MaxControlFrameLength)
        {
            // Thousands of headers: too big to record, and the node would close the connection for it.
            ReturnIdle(host.Display, connection);
            return;
        }

        var frame = KilnManifest.RecordFrame(manifestKey, entry);
        var sync = Synchronous(host);
        using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (!sync)
        {
            // The synchronous way's blocking send has the socket's own timeout.
            io.CancelAfter(_options.IoTimeout);
        }

        using var abort = io.Token.UnsafeRegister(static c => ((KilnClientConnection)c!).Dispose(), connection);
        try
        {
            await WriteAsync(connection, frame, sync, io.Token).ConfigureAwait(false);
            ReturnIdle(host.Display, connection);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            connection.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private static async Task<(KilnFrameType Type, KilnFrameFlags Flags, ReadOnlyMemory<byte> Payload)> FetchAsync(KilnClientConnection connection,
        KilnManifestEntry match, bool sync, CancellationToken cancellationToken)
    {
        await WriteAsync(connection, KilnManifest.KeyFrame(KilnFrameType.Fetch, match.NodeKey), sync, cancellationToken).ConfigureAwait(false);
        return await ReadFrameAsync(connection, sync, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A frame written with a blocking send on the synchronous way (plaintext only), else through the stream.</summary>
    private static ValueTask WriteAsync(KilnClientConnection connection, byte[] frame, bool sync, CancellationToken cancellationToken)
    {
        if (!sync || connection.Secure)
        {
            return new ValueTask(WriteAsync(connection, frame, cancellationToken));
        }

        connection.SendBlocking([frame]);
        return ValueTask.CompletedTask;
    }

    /// <summary>A frame read with blocking reads on the synchronous way, else awaited.</summary>
    private static ValueTask<(KilnFrameType Type, KilnFrameFlags Flags, ReadOnlyMemory<byte> Payload)> ReadFrameAsync(KilnClientConnection connection, bool sync,
        CancellationToken cancellationToken) =>
        sync ? new(ReadFrame(connection)) : new(ReadFrameAsync(connection, cancellationToken));

    /// <summary>HELLO followed by <paramref name="frame"/>, for a new connection: sent together, without waiting for WELCOME.</summary>
    private byte[] WithHello(byte[] frame)
    {
        var hello = new KilnHello(KilnProtocol.MinVersion, KilnProtocol.Version, KilnCapabilities.ResultOrigin, _options.Token, _options.ClientName);
        var both = new byte[hello.FrameLength + frame.Length];
        hello.WriteFrame(both);
        frame.CopyTo(both, hello.FrameLength);
        return both;
    }

    private static async Task WriteAsync(KilnClientConnection connection, byte[] frame, CancellationToken cancellationToken)
    {
        await connection.Stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        await connection.Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
