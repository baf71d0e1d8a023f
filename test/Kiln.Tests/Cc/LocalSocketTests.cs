using System.Globalization;
using System.Net.Sockets;
using Kiln.Core.Protocol;
using Kiln.Server.Hosting;
using Kiln.Tests.Security;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// A node's local socket (DESIGN.md's local listener): kiln cc learns it from a loopback WELCOME and
/// then reaches the node without TCP and TLS; a socket that is gone, another user's, or a node's on
/// another port is passed over for TCP, and the build goes on.
/// </summary>
public sealed class LocalSocketTests : IDisposable
{
    private readonly TempDirectory _dir = new("kiln-local-socket");
    private int _source;

    public void Dispose() => _dir.Dispose();

    private static Task<TestNode> StartNodeAsync() =>
        TestNode.StartAsync(configure: o => o.LocalSocket = KilnNodeOptions.DefaultLocalSocket(o.DataDirectory));

    /// <summary>Compiles a new source (a new action, so the node compiles it) and returns the run, checked against gcc.</summary>
    private Task<Tools.Run> CompileNewAsync(TestNode node, string state, Dictionary<string, string?>? extra = null) =>
        NewSourceCompile.RunAsync(_dir, ++_source, node, state, extra);

    /// <summary>The peer of the node's <paramref name="count"/>-th job in its audit log (waiting for it).</summary>
    private static async Task<string> JobPeerAsync(TestNode node, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var jobs = SecuredNode.AuditLines(node.DataDirectory).Where(e => e.GetProperty("action").GetString() == "job").ToList();
            if (jobs.Count >= count)
            {
                return jobs[count - 1].GetProperty("address").GetString()!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the node audited {jobs.Count} jobs, not {count}");
            await Task.Delay(20);
        }
    }

    private static string FactsFile(string state) =>
        Assert.Single(Directory.GetFiles(Path.Combine(state, "nodes"), "kiln_*"), f => !f.EndsWith(".tmp", StringComparison.Ordinal));

    /// <summary>Rewrites the <c>local=</c> line of the client's facts of the node.</summary>
    private static void SetLocalFact(string state, string value)
    {
        var path = FactsFile(state);
        var lines = File.ReadAllLines(path).Where(l => !l.StartsWith("local=", StringComparison.Ordinal)).Append("local=" + value);
        File.WriteAllLines(path, lines);
    }

    [Fact]
    public async Task KilnCcLearnsTheSocketOverTlsAndThenReachesTheNodeThroughIt()
    {
        await using var node = await StartNodeAsync();
        var socket = KilnNodeOptions.DefaultLocalSocket(node.DataDirectory);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(socket)!));
        var state = _dir.Combine("state");

        // First contact is TLS (pinned); its WELCOME names the socket, with the node's port and user.
        await CompileNewAsync(node, state);
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 1), StringComparison.Ordinal);
        var fact = File.ReadAllLines(FactsFile(state)).Single(l => l.StartsWith("local=", StringComparison.Ordinal))["local=".Length..];
        Assert.True(KilnLocalSocket.TryParse(fact, out var local), fact);
        Assert.Equal(node.Node.KilnEndPoint.Port, local.Port);
        Assert.Equal(socket, local.Path);
        Assert.Equal(CurrentUserId(), local.UserId);
        Assert.Equal(Netns, local.NetworkNamespace);
        Assert.NotEqual(0UL, Netns);

        // Then the socket: the node audits a local peer with its process and user.
        await CompileNewAsync(node, state);
        Assert.Matches(@"^local:pid=\d+,uid=" + CurrentUserId() + "$", await JobPeerAsync(node, 2));

        // KILN_LOCAL_SOCKET=0 goes by TCP and TLS as before.
        await CompileNewAsync(node, state, new() { ["KILN_LOCAL_SOCKET"] = "0" });
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 3), StringComparison.Ordinal);
        Assert.Equal(3, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task ASocketThatIsGoneAnotherUsersOrOnAnotherPortIsPassedOverForTcp()
    {
        await using var node = await StartNodeAsync();
        var socket = KilnNodeOptions.DefaultLocalSocket(node.DataDirectory);
        var state = _dir.Combine("state");
        await CompileNewAsync(node, state);
        var port = node.Node.KilnEndPoint.Port.ToString(CultureInfo.InvariantCulture);

        // Gone: nothing at the path. TCP, and no complaint.
        SetLocalFact(state, $"{port},{CurrentUserId()},{Netns},{_dir.Combine("no-such.sock")}");
        var gone = await CompileNewAsync(node, state);
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 2), StringComparison.Ordinal);
        Assert.DoesNotContain("WARNING", gone.Stderr);

        // Someone else's: the process at the other end runs as another user than the node said. TCP, and said.
        SetLocalFact(state, $"{port},{CurrentUserId() + 4242},{Netns},{socket}");
        var foreign = await CompileNewAsync(node, state);
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 3), StringComparison.Ordinal);
        Assert.Contains("is not the node's socket", foreign.Stderr);

        // A node on another port (what a relay or an ssh tunnel in front of a node looks like): not this host's socket.
        SetLocalFact(state, $"{node.Node.KilnEndPoint.Port + 1},{CurrentUserId()},{Netns},{socket}");
        await CompileNewAsync(node, state);
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 4), StringComparison.Ordinal);

        // A node in another network namespace (its 127.0.0.1 is not this one's, its paths are): not this host's socket.
        SetLocalFact(state, $"{port},{CurrentUserId()},{Netns + 1},{socket}");
        await CompileNewAsync(node, state);
        Assert.StartsWith("127.0.0.1:", await JobPeerAsync(node, 5), StringComparison.Ordinal);

        // Each WELCOME said the truth again: the next compile takes the socket.
        await CompileNewAsync(node, state);
        Assert.StartsWith("local:", await JobPeerAsync(node, 6), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStaleSocketIsReplacedAndALiveOneIsLeftToItsNode()
    {
        using var place = new TempDirectory("kiln-sock");
        var path = Path.Combine(place.Path, "run", "kiln.sock");

        // A socket left behind by a node that was killed: bound, nothing listening (.NET would unlink
        // its own on dispose; a process that exits without closing leaves the file).
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bind = await Tools.RunAsync("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
        Assert.True(bind.ExitCode == 0, bind.Stderr);
        Assert.True(File.Exists(path));
        await using var first = await TestNode.StartAsync(configure: o => o.LocalSocket = path);
        Assert.Null(first.Node.LocalSocketRefusal);
        using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            client.Connect(new UnixDomainSocketEndPoint(path));
        }

        // A second node told the same path leaves the first one's socket alone and serves by TCP only.
        await using var second = await TestNode.StartAsync(configure: o => o.LocalSocket = path);
        Assert.Contains("another process serves", second.Node.LocalSocketRefusal);
        Assert.Null(second.Node.Options.LocalSocket);
        using (var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            client.Connect(new UnixDomainSocketEndPoint(path));
        }

        // A path longer than sockaddr_un holds is refused with the reason, not a crash.
        var deep = Path.Combine(place.Path, new string('d', 120), "kiln.sock");
        await using var third = await TestNode.StartAsync(configure: o => o.LocalSocket = deep);
        Assert.Contains("longer than a Unix socket's 107 bytes", third.Node.LocalSocketRefusal);
    }

    [Theory]
    [InlineData("3635,1000,4026531840,/srv/kiln/local/kiln.sock", true)]
    [InlineData("3635,1000,4026531840,/a,b/kiln.sock", true)]
    [InlineData("3635,1000,/srv/kiln.sock", false)]
    [InlineData("3635,1000,4026531840,kiln.sock", false)]
    [InlineData("70000,1000,4026531840,/k.sock", false)]
    [InlineData("0,1000,4026531840,/k.sock", false)]
    [InlineData("3635,-1,4026531840,/k.sock", false)]
    [InlineData("3635,1000,x,/k.sock", false)]
    [InlineData("", false)]
    public void TheWelcomeAttributeIsReadStrictly(string value, bool valid)
    {
        Assert.Equal(valid, KilnLocalSocket.TryParse(value, out var parsed));
        if (valid)
        {
            Assert.Equal(value, parsed!.Value);
        }

        var tooLong = "3635,1000,1,/" + new string('p', 107);
        Assert.False(KilnLocalSocket.TryParse(tooLong, out _));
    }

    private static ulong Netns => KilnLocalSocket.CurrentNetworkNamespace();

    private static uint CurrentUserId() => uint.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
}
