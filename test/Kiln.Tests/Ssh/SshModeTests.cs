using Kiln.Core.Hosts;
using Kiln.Core.Ssh;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Ssh;

/// <summary>
/// ssh mode against a real OpenSSH server: <c>kiln cc</c> with <c>KILN_HOSTS=@127.0.0.1</c> runs
/// <c>ssh 127.0.0.1 kiln serve --stdio</c>, compiles there, and shares one ssh connection between
/// compiles; failures name the host and say what ssh said.
/// </summary>
public sealed class SshModeTests
{
    private const string Source = "#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint main(void) { printf(\"%d\\n\", twice(21)); return 0; }\n";

    private static Dictionary<string, string?> Environment(TempDirectory work, OpenSshServer sshd, string hosts) => new()
    {
        ["KILN_HOSTS"] = hosts,
        ["DISTCC_HOSTS"] = null,
        ["KILN_FALLBACK"] = "0",
        ["KILN_VERBOSE"] = "1",
        ["KILN_DIR"] = work.Combine("kd"),
        // No local cache: each compile here must reach the node, over ssh.
        ["KILN_CACHE_SIZE"] = "0",
        ["KILN_SSH"] = sshd.SshCommand,
        ["LC_ALL"] = "C",
    };

    [Fact]
    public async Task Kiln_cc_compiles_over_ssh_and_shares_one_connection()
    {
        using var work = new TempDirectory("kiln-ssh");
        await using var sshd = await OpenSshServer.StartAsync(work);
        work.Write("hello.c", Source);
        var env = Environment(work, sshd, "@127.0.0.1/2");
        try
        {
            var local = await Tools.RunAsync("gcc", ["-O2", "-c", "hello.c", "-o", "local.o"], work.Path);
            Assert.True(local.ExitCode == 0, local.Stderr);

            var first = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", "hello.c", "-o", "remote1.o"], work.Path, env);
            Assert.True(first.ExitCode == 0, $"kiln cc exited {first.ExitCode}:\n{first.Stderr}\nsshd:\n{sshd.Log}");
            Assert.Contains("hello.c compiled on @127.0.0.1", first.Stderr);
            var second = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", "hello.c", "-o", "remote2.o"], work.Path, env);
            Assert.True(second.ExitCode == 0, $"kiln cc exited {second.ExitCode}:\n{second.Stderr}\nsshd:\n{sshd.Log}");

            Assert.Equal(await File.ReadAllBytesAsync(work.Combine("local.o")), await File.ReadAllBytesAsync(work.Combine("remote1.o")));
            Assert.Equal(await File.ReadAllBytesAsync(work.Combine("local.o")), await File.ReadAllBytesAsync(work.Combine("remote2.o")));

            // Two compiles, two sessions, one connection: the second rode on the first's ControlMaster.
            Assert.Single(Directory.GetFileSystemEntries(work.Combine("kd", "ssh")));
            Assert.Equal(1, sshd.AcceptedConnections);
            Assert.Equal(2, sshd.Log.Split('\n').Count(l => l.Contains("Starting session: command", StringComparison.Ordinal)));

            // The far end audits as a node does: both jobs, by the ssh user, from the ssh client's address.
            var audit = await File.ReadAllLinesAsync(Path.Combine(sshd.RemoteDataDirectory, "kiln", "audit.jsonl"));
            var jobs = audit.Where(l => l.Contains("\"listener\":\"ssh\"", StringComparison.Ordinal) && l.Contains("\"action\":\"job\"", StringComparison.Ordinal)).ToList();
            Assert.True(jobs.Count == 2, $"expected two ssh job events in the audit log:\n{string.Join('\n', audit)}");
            Assert.All(jobs, l => Assert.Contains("hello.c", l, StringComparison.Ordinal));
            Assert.All(jobs, l => Assert.Contains("ssh:", l, StringComparison.Ordinal));
        }
        finally
        {
            await sshd.CloseSharedConnectionAsync(work.Combine("kd", "ssh"));
        }
    }

    [Fact]
    public async Task Missing_remote_kiln_and_unknown_host_key_fail_with_sshs_words()
    {
        using var work = new TempDirectory("kiln-ssh-fail");
        await using var sshd = await OpenSshServer.StartAsync(work);
        work.Write("hello.c", Source);
        try
        {
            var missing = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "hello.c", "-o", "hello.o"], work.Path,
                Environment(work, sshd, "@127.0.0.1:/nonexistent/kiln"));
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("@127.0.0.1", missing.Stderr);
            Assert.Contains("the remote command was not found", missing.Stderr);
            Assert.Contains("/nonexistent/kiln", missing.Stderr);
            Assert.False(File.Exists(work.Combine("hello.o")));

            // A host key that is not the pinned one: ssh refuses, and so does kiln cc, naming why.
            var keygen = await Tools.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", work.Combine("impostor")]);
            Assert.True(keygen.ExitCode == 0, keygen.Stderr);
            var otherKnownHosts = work.Write("other_known_hosts", $"[127.0.0.1]:{sshd.Port} {(await File.ReadAllTextAsync(work.Combine("impostor.pub"))).Trim()}\n");
            var strangerEnv = Environment(work, sshd, "@127.0.0.1");
            strangerEnv["KILN_SSH"] = $"{sshd.SshCommand} -o UserKnownHostsFile={otherKnownHosts}";
            strangerEnv["KILN_DIR"] = work.Combine("kd2");
            var stranger = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "hello.c", "-o", "hello.o"], work.Path, strangerEnv);
            Assert.NotEqual(0, stranger.ExitCode);
            Assert.Contains("ssh could not connect or log in", stranger.Stderr);
            Assert.Contains("Host key verification failed", stranger.Stderr);
            Assert.False(File.Exists(work.Combine("hello.o")));
        }
        finally
        {
            await sshd.CloseSharedConnectionAsync(work.Combine("kd", "ssh"));
        }
    }

    [Fact]
    public void Command_line_shares_connections_in_kiln_dir_and_passes_user_and_command()
    {
        var host = HostListParser.ParseHost("alice@build1/6:/opt/kiln/bin/kiln", out var error)!;
        Assert.Null(error);
        var argv = SshCommandLine.For(host, new SshClientOptions { Command = ["ssh", "-F", "/cfg"], ControlDirectory = "/home/alice/.cache/kiln/ssh" });
        Assert.Equal(
            ["ssh", "-F", "/cfg", "-T", "-x", "-a", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=/home/alice/.cache/kiln/ssh/%C",
                "-o", "ControlPersist=60", "-l", "alice", "--", "build1", "/opt/kiln/bin/kiln", "serve", "--stdio"],
            argv);

        // A control directory too long for a Unix socket name: no sharing rather than a failing ssh.
        var plain = SshCommandLine.For(HostListParser.ParseHost("@b", out _)!, new SshClientOptions { ControlDirectory = "/" + new string('d', 60) });
        Assert.Equal(["ssh", "-T", "-x", "-a", "-o", "BatchMode=yes", "--", "b", "kiln", "serve", "--stdio"], plain);
    }
}
