using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>A stock distccd in the foreground on 127.0.0.1, with its own log file; killed on dispose.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class StockDistccd : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TempDirectory _dir;

    private StockDistccd(Process process, TempDirectory dir, IPEndPoint endPoint)
    {
        _process = process;
        _dir = dir;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }

    public string LogFile => _dir.Combine("distccd.log");

    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    public static async Task<StockDistccd> StartAsync()
    {
        Assert.True(Tools.Exists("distccd"), "distccd is not installed (apt-get install distcc)");
        var dir = new TempDirectory("kiln-distccd");
        // distccd drops root for its own user, which must be able to write the log.
        File.WriteAllText(dir.Combine("distccd.log"), "");
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_111_111);
        File.SetUnixFileMode(dir.Combine("distccd.log"), (UnixFileMode)0b110_110_110);

        // A free port: bound by the test, released, then taken by distccd.
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var info = new ProcessStartInfo("distccd")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "--daemon", "--no-detach", "--listen", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--allow", "127.0.0.1", "--jobs", "2", "--log-file", dir.Combine("distccd.log"), "--log-level", "info" })
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["TMPDIR"] = dir.Path;
        var process = Process.Start(info)!;
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var daemon = new StockDistccd(process, dir, endPoint);
        await Wait.UntilAsync(() => process.HasExited || daemon.Log.Contains("listening on", StringComparison.Ordinal) || IsListening(port),
            $"distccd to listen on 127.0.0.1:{port}", TimeSpan.FromSeconds(20));
        Assert.False(process.HasExited, "distccd exited at start: " + daemon.Log);
        return daemon;
    }

    private static bool IsListening(int port) =>
        System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners().Any(e => e.Port == port);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _dir.Dispose();
    }
}
