using System.Net.Sockets;
using Kiln.Core.Compile;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Core.Distcc;

/// <summary>
/// Sends a compile to a stock distccd (or a Kiln node's distcc listener) with distcc protocol 1, or 2
/// on <c>,lzo</c> hosts. A <c>,cpp</c> host is spoken to in protocol 2: Kiln preprocesses on the client,
/// as distcc itself does when its include server cannot help. Network and protocol failures come back
/// as <see cref="RemoteStatus.Failed"/> replies naming the host, never as exceptions.
/// </summary>
public sealed class DistccClient : IRemoteCompileClient
{
    /// <summary>distcc's own connect timeout (hard-coded 4 s in its client).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Longest wait for any single read of the reply (distcc's DISTCC_IO_TIMEOUT default is 300 s).</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The argv distcc sends for a compile: compiler, arguments, <c>-c</c>, source, <c>-o</c>, output.</summary>
    public static List<string> WireArguments(RemoteCompileRequest request)
    {
        var argv = new List<string>(request.Arguments.Count + 5) { request.Compiler };
        argv.AddRange(request.Arguments);
        argv.Add("-c");
        argv.Add(request.SourceName);
        argv.Add("-o");
        argv.Add(request.OutputName);
        return argv;
    }

    /// <inheritdoc />
    public async Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        if (host.Kind != HostKind.Tcp || host.Protocol != HostProtocol.Distcc)
        {
            return RemoteCompileReply.Fail($"{host.Display}: not a distcc TCP host ({host.Text})");
        }

        var version = host.Lzo || host.Cpp ? 2u : 1u;
        var compressed = version >= 2;
        if (compressed && !Lzo1x.IsAvailable)
        {
            return RemoteCompileReply.Fail($"{host.Display}: ,lzo needs liblzo2 (Debian package liblzo2-2), which is not installed");
        }

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connect.CancelAfter(ConnectTimeout);
                try
                {
                    await socket.ConnectAsync(host.Host, host.EffectivePort, connect.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return RemoteCompileReply.Fail($"{host.Display}: no connection within {ConnectTimeout.TotalSeconds:0.#} s");
                }
            }

            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var writer = new DistccWriter(stream);
            var argv = WireArguments(request);
            writer.Header("DIST", version);
            writer.Header("ARGC", (uint)argv.Count);
            foreach (var a in argv)
            {
                writer.String("ARGV", a);
            }

            await writer.BodyAsync("DOTI", request.Preprocessed, compressed, cancellationToken).ConfigureAwait(false);
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);

            var reader = new DistccReader(stream, IoTimeout);
            DistccHeader done;
            try
            {
                done = await reader.ReadHeaderAsync("DONE", cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (reader.BytesRead == 0 && e is DistccProtocolException or IOException)
            {
                // distccd refuses a job (client address, compiler, arguments) by closing without a word.
                return RemoteCompileReply.Fail($"{host.Display}: the server closed the connection without an answer "
                    + "(distccd does this when it refuses the client address, the compiler or an argument; see its log)");
            }

            if (done.Token != "DONE" || done.Value != version)
            {
                return RemoteCompileReply.Fail($"{host.Display}: expected DONE{version:x8}, got {done}");
            }

            var status = await reader.ExpectAsync("STAT", cancellationToken).ConfigureAwait(false);
            var stderr = await reader.ReadBodyAsync("SERR", await reader.ExpectAsync("SERR", cancellationToken).ConfigureAwait(false),
                compressed, DistccLimits.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            var stdout = await reader.ReadBodyAsync("SOUT", await reader.ExpectAsync("SOUT", cancellationToken).ConfigureAwait(false),
                compressed, DistccLimits.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            var objectLength = await reader.ExpectAsync("DOTO", cancellationToken).ConfigureAwait(false);
            var obj = Array.Empty<byte>();
            if (status == 0)
            {
                obj = await reader.ReadBodyAsync("DOTO", objectLength, compressed, DistccLimits.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            }
            else if (objectLength != 0)
            {
                return RemoteCompileReply.Fail($"{host.Display}: the compile failed (status {status:x}) but the server sent an object of {objectLength} bytes");
            }

            var outcome = new CompileOutcome
            {
                ExitCode = DistccWaitStatus.ToExitCode(status),
                Stdout = stdout,
                Stderr = stderr,
                Object = obj,
            };
            return new RemoteCompileReply(RemoteStatus.Completed, outcome, null);
        }
        catch (DistccProtocolException e)
        {
            return RemoteCompileReply.Fail($"{host.Display}: {e.Message}");
        }
        catch (SocketException e)
        {
            return RemoteCompileReply.Fail($"{host.Display}: {e.Message}");
        }
        catch (IOException e)
        {
            return RemoteCompileReply.Fail($"{host.Display}: {e.Message}");
        }
    }
}
