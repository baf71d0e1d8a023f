using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Server.Compile;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Sandbox;

/// <summary>
/// A sandboxed job reaches no network: under the seccomp filter (the default where it exists) every
/// <c>socket()</c> fails, TCP to a listener on the node's loopback and Unix sockets alike, while the
/// compiler itself runs as before; under the network-namespace fallback the same holds. The job sees
/// no <c>/proc</c>, so it cannot copy the host's connection table into an object either.
/// </summary>
public sealed class SandboxNetworkTests
{
    private const string Probe = """
        import socket, sys
        port = int(sys.argv[1])
        for family, address in ((socket.AF_INET, ("127.0.0.1", port)), (socket.AF_UNIX, "\0kiln-sandbox-probe"), (socket.AF_INET6, ("::1", port))):
            try:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(2)
                s.connect(address)
                print(family.name, "connected")
            except OSError as e:
                print(family.name, "refused", e.errno)
        """;

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunSandboxedAsync(JobSandbox sandbox, string directory, string program, params string[] arguments)
    {
        var (file, commandLine) = sandbox.Command(program, arguments, directory, directory);
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = directory };
        foreach (var a in commandLine)
        {
            info.ArgumentList.Add(a);
        }

        using var process = await sandbox.StartAsync(info);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
        var stderr = process.StandardError.ReadToEndAsync(cts.Token);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_sandboxed_job_can_open_no_socket_to_the_node_or_anything_else(bool networkNamespace)
    {
        using var sandbox = new JobSandbox(new JobLimits { Sandbox = JobSandboxMode.Bubblewrap, NetworkNamespace = networkNamespace });
        Assert.Equal(!networkNamespace, sandbox.UsesSeccomp);
        using var directory = new TempDirectory();
        File.WriteAllText(Path.Combine(directory.Path, "probe.py"), Probe);

        // The node's own loopback listener, and an abstract Unix socket in the node's network namespace.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        unix.Bind(new UnixDomainSocketEndPoint("\0kiln-sandbox-probe"));
        unix.Listen();

        var (exitCode, stdout, stderr) = await RunSandboxedAsync(sandbox, directory.Path, "/usr/bin/python3", "probe.py", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.True(exitCode == 0, $"exit {exitCode}: {stderr} {stdout}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, line => Assert.Contains(" refused ", line));
        if (!networkNamespace)
        {
            // EACCES from the filter for every family, not a connection that failed on its own.
            Assert.All(lines, line => Assert.EndsWith(" 13", line));
        }

        Assert.False(listener.Pending(), "the sandboxed job reached the node's loopback listener");
        Assert.False(unix.Poll(0, SelectMode.SelectRead), "the sandboxed job reached an abstract Unix socket of the node's namespace");
    }

    [Fact]
    public async Task A_sandboxed_compile_under_seccomp_gives_the_object_a_plain_compile_gives()
    {
        using var sandbox = new JobSandbox(new JobLimits { Sandbox = JobSandboxMode.Bubblewrap });
        Assert.True(sandbox.UsesSeccomp, "no seccomp program for this machine");
        using var directory = new TempDirectory();
        File.WriteAllText(Path.Combine(directory.Path, "input.i"), "int twice(int x) { return 2 * x; }\n");

        var (exitCode, _, stderr) = await RunSandboxedAsync(sandbox, directory.Path, "/usr/bin/gcc", "-O2", "-c", "input.i", "-o", "sandboxed.o");
        Assert.True(exitCode == 0, $"exit {exitCode}: {stderr}");
        using (var plain = Process.Start(new ProcessStartInfo("/usr/bin/gcc", ["-O2", "-c", "input.i", "-o", "plain.o"]) { WorkingDirectory = directory.Path })!)
        {
            await plain.WaitForExitAsync();
            Assert.Equal(0, plain.ExitCode);
        }

        Assert.Equal(File.ReadAllBytes(Path.Combine(directory.Path, "plain.o")), File.ReadAllBytes(Path.Combine(directory.Path, "sandboxed.o")));
    }

    [Fact]
    public async Task A_job_that_assembles_in_the_host_connection_table_finds_no_such_file()
    {
        await using var node = await TestNode.StartAsync();
        Assert.True(node.Node.Executor.Sandbox.UsesSeccomp, "the node's jobs do not run under the seccomp filter");
        using var client = new KilnProtocolClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest() with
        {
            Preprocessed = "__asm__(\".section .rodata\\n.incbin \\\"/proc/net/tcp\\\"\\n.previous\");\nint answer(void) { return 42; }\n"u8.ToArray(),
            Locale = new Dictionary<string, string> { ["LC_ALL"] = "C" },
        }, cts.Token);

        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.NotEqual(0, reply.Outcome!.ExitCode);
        Assert.Contains("file not found: /proc/net/tcp", Encoding.UTF8.GetString(reply.Outcome.Stderr.Span));
        await ProtocolTestKit.AssertServesAsync(node);
    }
}
