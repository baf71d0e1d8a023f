using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Ssh;

/// <summary>
/// Debian's OpenSSH server (<c>/usr/sbin/sshd -D -e</c>) as a child of the test, on 127.0.0.1 and a
/// free port, with host and user keys made by <c>ssh-keygen</c> for this test, its own
/// <c>sshd_config</c>, and a client config (<see cref="SshCommand"/>) that pins the host key in its own
/// known_hosts. No system configuration is read or written; the only system state it needs is the
/// privilege separation directory <c>/run/sshd</c> that Debian's service creates at start. Sessions
/// find the <c>kiln</c> under test first on PATH (sshd's <c>SetEnv</c>), and have the test's
/// directory as HOME and for their node data (<c>XDG_DATA_HOME</c>).
/// </summary>
internal sealed class OpenSshServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly string _clientConfig;

    private OpenSshServer(Process process, int port, string clientConfig, string remoteData)
    {
        _process = process;
        Port = port;
        _clientConfig = clientConfig;
        RemoteDataDirectory = remoteData;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
    }

    /// <summary>The port sshd listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The ssh command for <c>KILN_SSH</c>: the system ssh with this server's client config.</summary>
    public string SshCommand => $"ssh -F {_clientConfig}";

    /// <summary>Where remote <c>kiln serve --stdio</c> sessions keep their data (job directories).</summary>
    public string RemoteDataDirectory { get; }

    /// <summary>What sshd logged (it logs to standard error with <c>-e</c>).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Connections sshd accepted a key for: one per ssh connection, however many sessions it carries.</summary>
    public int AcceptedConnections => Log.Split('\n').Count(l => l.Contains("Accepted publickey for", StringComparison.Ordinal));

    public static async Task<OpenSshServer> StartAsync(TempDirectory dir)
    {
        Assert.True(File.Exists("/usr/sbin/sshd"), "OpenSSH server is not installed (apt-get install openssh-server)");
        var ssh = Directory.CreateDirectory(dir.Combine("sshd")).FullName;
        await KeygenAsync(Path.Combine(ssh, "host_ed25519"));
        await KeygenAsync(Path.Combine(ssh, "client_ed25519"));
        File.Copy(Path.Combine(ssh, "client_ed25519.pub"), Path.Combine(ssh, "authorized_keys"));
        var remoteData = Directory.CreateDirectory(Path.Combine(ssh, "remote-data")).FullName;
        // The session's HOME is the test's own: the machine's dotfiles (a ~/.bashrc that starts pyenv
        // took 0.6 s per session here) stay out of every compile.
        var home = Directory.CreateDirectory(Path.Combine(ssh, "home")).FullName;

        // sshd checks for its privilege separation directory before anything else.
        Directory.CreateDirectory("/run/sshd");

        var user = Environment.UserName;
        var kilnDirectory = Path.GetDirectoryName(Tools.KilnBinary)!;
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var serverConfig = Path.Combine(ssh, "sshd_config");
            await File.WriteAllTextAsync(serverConfig, $"""
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {ssh}/host_ed25519
                PidFile {ssh}/sshd.pid
                AuthorizedKeysFile {ssh}/authorized_keys
                AllowUsers {user}
                StrictModes no
                UsePAM no
                PubkeyAuthentication yes
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                PermitUserEnvironment no
                X11Forwarding no
                AllowAgentForwarding no
                MaxSessions 64
                MaxStartups 64
                LogLevel VERBOSE
                SetEnv PATH={kilnDirectory}:/usr/local/bin:/usr/bin:/bin HOME={home} XDG_DATA_HOME={remoteData} LC_ALL=C
                """);

            var hostKey = (await File.ReadAllTextAsync(Path.Combine(ssh, "host_ed25519.pub"))).Trim();
            await File.WriteAllTextAsync(Path.Combine(ssh, "known_hosts"), $"[127.0.0.1]:{port} {hostKey}\n");
            var clientConfig = Path.Combine(ssh, "ssh_config");
            await File.WriteAllTextAsync(clientConfig, $"""
                Host 127.0.0.1
                    Port {port}
                    User {user}
                    IdentityFile {ssh}/client_ed25519
                    IdentitiesOnly yes
                    IdentityAgent none
                    UserKnownHostsFile {ssh}/known_hosts
                    GlobalKnownHostsFile /dev/null
                    StrictHostKeyChecking yes
                    PasswordAuthentication no
                    LogLevel ERROR
                """);

            var info = new ProcessStartInfo("/usr/sbin/sshd")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "-D", "-e", "-f", serverConfig })
            {
                info.ArgumentList.Add(a);
            }

            var process = Process.Start(info)!;
            var server = new OpenSshServer(process, port, clientConfig, remoteData);
            await Wait.UntilAsync(() => process.HasExited || server.Log.Contains("Server listening on 127.0.0.1", StringComparison.Ordinal),
                "sshd to listen", TimeSpan.FromSeconds(30));
            if (!process.HasExited)
            {
                return server;
            }

            // Another process took the free port between the probe and sshd's bind: try another.
            var log = server.Log;
            await server.DisposeAsync();
            Assert.True(attempt < 3 && log.Contains("Address already in use", StringComparison.Ordinal), $"sshd did not start:\n{log}");
        }
    }

    /// <summary>Closes the shared connection a client left open in <paramref name="controlDirectory"/> (ControlPersist).</summary>
    public async Task CloseSharedConnectionAsync(string controlDirectory)
    {
        if (Directory.Exists(controlDirectory) && Directory.EnumerateFileSystemEntries(controlDirectory).Any())
        {
            await Tools.RunAsync("ssh", ["-F", _clientConfig, "-o", "ControlPath=" + Path.Combine(controlDirectory, "%C"), "-O", "exit", "127.0.0.1"],
                timeout: TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // The listener and every per-connection sshd it forked.
            _process.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cts.Token);
        }

        _process.Dispose();
    }

    private static async Task KeygenAsync(string path)
    {
        var run = await Tools.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test", "-f", path]);
        Assert.True(run.ExitCode == 0, run.Stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
