using System.Net.Sockets;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Core.Protocol;

/// <summary>Remote preprocessing on the Kiln protocol: one PREPROCESS frame, answered as a JOB is.</summary>
public sealed partial class KilnProtocolClient
{
    /// <inheritdoc/>
    public bool KeepsManifests(HostSpec host) =>
        LastWelcome(host) is { } welcome && (welcome.Capabilities & KilnCapabilities.Manifests) != 0;

    /// <inheritdoc/>
    public bool PreprocessesRemotely(HostSpec host) =>
        LastWelcome(host) is { } welcome && (welcome.Capabilities & KilnCapabilities.RemotePreprocess) != 0;

    /// <inheritdoc/>
    public async Task<RemoteCompileReply> PreprocessAsync(HostSpec host, KilnPreprocessJob job, CancellationToken cancellationToken)
    {
        var node = host.Display;
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Kiln)
        {
            return RemoteCompileReply.Fail($"node {node}: not a Kiln protocol TCP host");
        }

        if (job.Validate() is { } invalid)
        {
            return RemoteCompileReply.Fail($"node {node}: {invalid}");
        }

        var connection = TakeIdle(node);
        if (Synchronous(host))
        {
            if (connection is null)
            {
                try
                {
                    connection = ConnectSynchronously(host);
                }
                catch (SocketException e)
                {
                    return RemoteCompileReply.Fail($"node {node}: cannot connect: {e.Message}");
                }
            }

            var sources = job.ToFrame();
            var answer = await ExchangeSynchronouslyAsync(connection, node, hello => [hello ? WithHello(sources) : sources], cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "sent-sources");
            return ToReply(node, answer);
        }

        if (connection is null)
        {
            try
            {
                connection = await ConnectAsync(host, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return RemoteCompileReply.Fail($"node {node}: no connection within {_options.ConnectTimeout.TotalSeconds:0.#} s");
            }
            catch (Exception e) when (e is SocketException or IOException or KilnTlsRefusal)
            {
                return RemoteCompileReply.Fail($"node {node}: cannot connect: {e.Message}");
            }
        }

        using var io = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        io.CancelAfter(_options.IoTimeout);
        using var abort = io.Token.UnsafeRegister(static c => ((KilnClientConnection)c!).Dispose(), connection);
        var hello = connection.Welcome is null;
        var frame = hello ? WithHello(job.ToFrame()) : job.ToFrame();

        var replyTask = ReadReplyAsync(connection, node, hello, io);
        string? sendFailure = null;
        try
        {
            await WriteAsync(connection, frame, io.Token).ConfigureAwait(false);
            PhaseTrace.Mark("cc", "sent-sources");
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            sendFailure = e.Message;
        }

        KilnClientReply reply;
        try
        {
            reply = await replyTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            reply = KilnClientReply.Failed($"no reply within {_options.IoTimeout.TotalSeconds:0.#} s");
        }
        catch (OperationCanceledException)
        {
            connection.Dispose();
            throw;
        }

        if (sendFailure is not null && reply.Failure is not null)
        {
            reply = reply with { Failure = $"sending the sources failed: {sendFailure}" };
        }

        if (sendFailure is null && reply.KeepsConnection && !io.IsCancellationRequested)
        {
            ReturnIdle(node, connection);
        }
        else
        {
            connection.Dispose();
        }

        return ToReply(node, reply);
    }
}
