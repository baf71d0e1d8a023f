using System.Net;
using System.Net.Sockets;

namespace Kiln.Tests.Protocol;

/// <summary>
/// A fake node on 127.0.0.1 port 0 that accepts one connection and runs a test's script on it: the
/// misbehaving peer a client must survive.
/// </summary>
internal sealed class ScriptedKilnNode : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _run;
    private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(60));

    public ScriptedKilnNode(Func<RawKilnPeer, CancellationToken, Task> script)
    {
        _listener.Start();
        _run = RunAsync(script);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    private async Task RunAsync(Func<RawKilnPeer, CancellationToken, Task> script)
    {
        using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        await using var peer = RawKilnPeer.Accepted(client);
        await script(peer, _stop.Token);
    }

    /// <summary>Waits for the script to finish and rethrows what it asserted.</summary>
    public Task Completion => _run.WaitAsync(TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        catch (IOException)
        {
        }

        _stop.Dispose();
    }
}
