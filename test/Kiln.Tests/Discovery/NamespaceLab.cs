using System.Diagnostics;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Discovery;

/// <summary>
/// Network namespaces on one bridge (10.201.N.i/24 inside the namespaces only), the processes started
/// in them, and avahi-daemons with their own D-Bus on private tmpfs mounts. Disposing kills every
/// process it started, by pid, and deletes the namespaces, whatever state the test left.
/// </summary>
public sealed class NamespaceLab : IAsyncDisposable
{
    private readonly List<int> _pids = [];
    private readonly List<string> _namespaces = [];
    private readonly TempDirectory _work = new("kiln-netns");

    private NamespaceLab(string prefix, int subnet)
    {
        Prefix = prefix;
        Subnet = subnet;
    }

    public string Prefix { get; }

    public int Subnet { get; }

    public string WorkDirectory => _work.Path;

    public string Namespace(int i) => $"{Prefix}{i}";

    public string Address(int i) => $"10.201.{Subnet}.{i}";

    /// <summary>Creates <paramref name="count"/> namespaces on a bridge, or returns null with the reason when namespaces cannot be made here.</summary>
    public static async Task<(NamespaceLab? Lab, string Reason)> TryCreateAsync(int count)
    {
        var suffix = Environment.ProcessId % 10000;
        var lab = new NamespaceLab($"kd{suffix}n", 100 + suffix % 100);
        var bridge = lab.Prefix + "br";
        var add = await Tools.RunAsync("ip", ["netns", "add", bridge], timeout: TimeSpan.FromSeconds(20));
        if (add.ExitCode != 0)
        {
            await lab.DisposeAsync();
            return (null, "'ip netns add' is not permitted here: " + add.Stderr.Trim());
        }

        lab._namespaces.Add(bridge);
        await lab.IpAsync("-n", bridge, "link", "add", "br0", "type", "bridge");
        await lab.IpAsync("-n", bridge, "link", "set", "br0", "up");
        for (var i = 1; i <= count; i++)
        {
            var ns = lab.Namespace(i);
            await lab.IpAsync("netns", "add", ns);
            lab._namespaces.Add(ns);
            string inside = $"{lab.Prefix}v{i}", outside = $"{lab.Prefix}b{i}";
            await lab.IpAsync("link", "add", inside, "netns", ns, "type", "veth", "peer", "name", outside, "netns", bridge);
            await lab.IpAsync("-n", bridge, "link", "set", outside, "master", "br0");
            await lab.IpAsync("-n", bridge, "link", "set", outside, "up");
            await lab.IpAsync("-n", ns, "addr", "add", lab.Address(i) + "/24", "dev", inside);
            await lab.IpAsync("-n", ns, "link", "set", inside, "up");
            await lab.IpAsync("-n", ns, "link", "set", "lo", "up");
        }

        return (lab, "");
    }

    /// <summary>The veth name inside namespace <paramref name="i"/>.</summary>
    public string Interface(int i) => $"{Prefix}v{i}";

    /// <summary>Runs a program to completion inside namespace <paramref name="i"/>.</summary>
    public Task<Tools.Run> RunAsync(int i, string program, params string[] args) =>
        Tools.RunAsync("ip", ["netns", "exec", Namespace(i), program, .. args], timeout: TimeSpan.FromSeconds(30));

    /// <summary>Starts a long-running program in namespace <paramref name="i"/>, output to a log file; returns its pid.</summary>
    public int Start(int i, string logName, string program, params string[] args) =>
        StartRaw(logName, "ip", ["netns", "exec", Namespace(i), program, .. args]);

    /// <summary>
    /// Starts avahi-daemon in namespace <paramref name="i"/> the way research/feasibility-avahi-prometheus-browser.md
    /// found to work without systemd: a holder process with a private mount namespace and fresh tmpfs
    /// on /run/dbus and /run/avahi-daemon, its own system bus, and the daemon limited to the veth.
    /// Returns the holder's pid, for <c>nsenter -t PID -m -n</c>.
    /// </summary>
    public async Task<int> StartAvahiAsync(int i, string hostName)
    {
        var conf = _work.Write($"avahi-{i}.conf", $"""
            [server]
            host-name={hostName}
            use-ipv4=yes
            use-ipv6=no
            allow-interfaces={Interface(i)}
            enable-dbus=yes
            [wide-area]
            enable-wide-area=no
            [publish]
            publish-hinfo=no
            publish-workstation=no

            """);
        var pidFile = _work.Combine($"holder-{i}.pid");
        StartRaw($"holder-{i}", "ip", ["netns", "exec", Namespace(i), "unshare", "-m", "--propagation", "private", "sh", "-c",
            $"mount -t tmpfs tmpfs /run/dbus && mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && echo $$ > {pidFile} && exec sleep 600"]);
        await Wait.UntilAsync(() => File.Exists(pidFile) && File.ReadAllText(pidFile).Trim().Length > 0, "the avahi holder's pid file", TimeSpan.FromSeconds(10));
        var holder = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        _pids.Add(holder);

        var bus = await Tools.RunAsync("nsenter", ["-t", $"{holder}", "-m", "-n", "dbus-daemon", "--system", "--fork", "--print-pid"], timeout: TimeSpan.FromSeconds(20));
        Assert.True(bus.ExitCode == 0, "dbus-daemon: " + bus.Stderr);
        _pids.Add(int.Parse(bus.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture));

        StartRaw($"avahi-{i}", "nsenter", ["-t", $"{holder}", "-m", "-n", "avahi-daemon", "-f", conf, "--no-drop-root", "--no-rlimits"]);
        await WaitAsync(async () => (await InAvahiAsync(holder, "avahi-daemon", "-c")).ExitCode == 0, $"avahi-daemon in {Namespace(i)} to be ready", TimeSpan.FromSeconds(20));
        return holder;
    }

    /// <summary>Runs an avahi client beside the daemon of holder <paramref name="holder"/>.</summary>
    public Task<Tools.Run> InAvahiAsync(int holder, string program, params string[] args) =>
        Tools.RunAsync("nsenter", ["-t", $"{holder}", "-m", "-n", program, .. args], timeout: TimeSpan.FromSeconds(30));

    /// <summary>Starts a long-running avahi client (avahi-publish) beside the daemon of <paramref name="holder"/>.</summary>
    public int StartInAvahi(int holder, string logName, string program, params string[] args) =>
        StartRaw(logName, "nsenter", ["-t", $"{holder}", "-m", "-n", program, .. args]);

    public string Log(string logName) => File.Exists(_work.Combine(logName + ".log")) ? File.ReadAllText(_work.Combine(logName + ".log")) : "";

    /// <summary>Sends SIGTERM to a pid this lab started and waits until it is gone.</summary>
    public async Task TerminateAsync(int pid)
    {
        await Tools.RunAsync("kill", ["-TERM", $"{pid}"]);
        await Wait.UntilAsync(() => !Exists(pid), $"pid {pid} to exit after SIGTERM", TimeSpan.FromSeconds(15));
        _pids.Remove(pid);
    }

    /// <summary>Waits on an asynchronous condition with a deadline.</summary>
    public static async Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }

            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var pid in Enumerable.Reverse(_pids))
        {
            await Tools.RunAsync("kill", ["-TERM", $"{pid}"]);
        }

        var clock = Stopwatch.StartNew();
        while (_pids.Any(Exists) && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        foreach (var pid in _pids.Where(Exists))
        {
            await Tools.RunAsync("kill", ["-KILL", $"{pid}"]);
        }

        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            await Tools.RunAsync("ip", ["netns", "del", ns]);
        }

        _work.Dispose();
    }

    private int StartRaw(string logName, string program, IReadOnlyList<string> args)
    {
        var log = _work.Combine(logName + ".log");
        var info = new ProcessStartInfo("sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        // exec keeps one pid from sh to the program: ip netns exec and nsenter (without -p) exec too.
        info.ArgumentList.Add("exec \"$0\" \"$@\" > " + log + " 2>&1 < /dev/null");
        info.ArgumentList.Add(program);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        _pids.Add(process.Id);
        return process.Id;
    }

    private static bool Exists(int pid)
    {
        // A zombie still has /proc/PID; count it as gone.
        var stat = $"/proc/{pid}/stat";
        try
        {
            var text = File.ReadAllText(stat);
            return !text[(text.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private async Task IpAsync(params string[] args)
    {
        var run = await Tools.RunAsync("ip", args, timeout: TimeSpan.FromSeconds(20));
        Assert.True(run.ExitCode == 0, $"ip {string.Join(' ', args)}: {run.Stderr}");
    }
}
