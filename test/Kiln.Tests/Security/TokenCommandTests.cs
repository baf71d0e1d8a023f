using Kiln.Core.Remote;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

/// <summary><c>kiln token</c> on a node's data directory, and <c>kiln cc</c> with KILN_TOKEN and trust on first use.</summary>
public sealed class TokenCommandTests
{
    [Fact]
    public async Task Token_made_by_the_cli_is_accepted_by_a_running_node_and_revoke_takes_effect()
    {
        using var data = new TempDirectory("kiln-token-cli");
        await using var node = await TestNode.StartAsync(configure: o => o.DataDirectory = data.Path);
        var create = await Tools.RunAsync(Tools.KilnBinary, ["token", "create", "--role", "execute", "--name", "ci", "--data", data.Path]);
        Assert.True(create.ExitCode == 0, create.Stderr);
        var token = create.Stdout.Trim();
        Assert.Matches("^kiln_[0-9a-f]{12}_[A-Za-z0-9.-]+$", token);
        Assert.DoesNotContain(token.Split('_')[2], File.ReadAllText(data.Combine("tokens")), StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(data.Combine("tokens")));

        var list = await Tools.RunAsync(Tools.KilnBinary, ["token", "list", "--data", data.Path]);
        Assert.Equal($"{token.Split('_')[1]}\texecute\tci\n", list.Stdout);

        using (var client = new Kiln.Core.Protocol.KilnProtocolClient(new() { Token = token }))
        {
            Assert.Equal(RemoteStatus.Completed, (await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(), CancellationToken.None)).Status);
        }

        var revoke = await Tools.RunAsync(Tools.KilnBinary, ["token", "revoke", token.Split('_')[1], "--data", data.Path]);
        Assert.Equal(0, revoke.ExitCode);
        using (var client = new Kiln.Core.Protocol.KilnProtocolClient(new() { Token = token }))
        {
            Assert.Equal(RemoteStatus.Failed, (await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(), CancellationToken.None)).Status);
        }

        var bad = await Tools.RunAsync(Tools.KilnBinary, ["token", "create", "--role", "root", "--data", data.Path]);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("expected read, write, execute or admin", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kiln_cc_sends_KILN_TOKEN_and_trusts_a_new_node_once_loudly()
    {
        using var data = new TempDirectory("kiln-token-cc");
        using var state = new TempDirectory("kiln-token-cc-state");
        await using var node = await TestNode.StartAsync(configure: o => o.DataDirectory = data.Path);
        var token = (await Tools.RunAsync(Tools.KilnBinary, ["token", "create", "--role", "execute", "--data", data.Path])).Stdout.Trim();
        // Three different sources: a cache (local or the node's) must not answer for the node's access checks.
        state.Write("a.c", "int answer(void) { return 42; }\n");
        state.Write("b.c", "int answer(void) { return 43; }\n");
        state.Write("c.c", "int answer(void) { return 44; }\n");
        var environment = new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = node.Node.KilnEndPoint.ToString(),
            ["DISTCC_HOSTS"] = null,
            ["KILN_DIR"] = state.Combine("kiln"),
            ["KILN_FALLBACK"] = "0",
            ["KILN_TOKEN"] = token,
            ["KILN_VERBOSE"] = null,
            ["KILN_CLIENT_CERT"] = null,
            ["KILN_CACHE_SIZE"] = "0",
        };

        var first = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "a.c", "-o", "a.o"], state.Path, environment);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains($"WARNING: trusting node {node.Node.KilnEndPoint} on first use", first.Stderr, StringComparison.Ordinal);
        Assert.Contains(node.Fingerprint, first.Stderr, StringComparison.Ordinal);
        var second = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "b.c", "-o", "b.o"], state.Path, environment);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal("", second.Stderr);
        Assert.Equal(2, node.Node.Counters.CompilesOk);

        environment["KILN_TOKEN"] = null;
        var refused = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", "c.c", "-o", "c.o"], state.Path, environment);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("no credentials", refused.Stderr, StringComparison.Ordinal);
    }
}
