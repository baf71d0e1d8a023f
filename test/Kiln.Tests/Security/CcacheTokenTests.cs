using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

/// <summary>The real ccache (4.7.5) against a node with tokens: credentials in the URL and the bearer-token attribute.</summary>
public sealed class CcacheTokenTests
{
    private static async Task<Dictionary<string, long>> CompileAsync(TempDirectory work, string client, string remote)
    {
        var environment = new Dictionary<string, string?>
        {
            ["CCACHE_DIR"] = work.Combine(client + ".ccache"),
            ["CCACHE_CONFIGPATH"] = work.Write(client + ".conf", ""),
            ["CCACHE_REMOTE_STORAGE"] = remote,
            ["CCACHE_DISABLE"] = null,
            ["CCACHE_RECACHE"] = null,
            ["CCACHE_READONLY"] = null,
            ["CCACHE_REMOTE_ONLY"] = null,
            ["CCACHE_PREFIX"] = null,
        };
        var run = await Tools.RunAsync("ccache", ["gcc", "-O2", "-c", "a.c", "-o", client + ".o"], work.Path, environment, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var stats = await Tools.RunAsync("ccache", ["--print-stats"], work.Path, environment, TimeSpan.FromMinutes(1));
        return stats.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))
            .Where(p => p.Length == 2 && long.TryParse(p[1], out _)).ToDictionary(p => p[0], p => long.Parse(p[1]));
    }

    [Fact]
    public async Task Ccache_real_client_no_credentials_wrong_role_and_right_role()
    {
        Assert.True(Tools.Exists("ccache"), "ccache is not installed (apt-get install -y ccache)");
        await using var node = await SecuredNode.StartAsync();
        using var work = new TempDirectory("kiln-ccache-token");
        work.Write("a.c", "int answer(void) { return 42; }\n");
        var url = $"http://127.0.0.1:{node.Node.Node.HttpEndPoint!.Port}/ccache";

        var anonymous = await CompileAsync(work, "anonymous", url);
        Assert.True(anonymous["remote_storage_error"] >= 1, "ccache without credentials should see the node refuse");
        var reader = await CompileAsync(work, "reader", $"{url}|bearer-token={node.Read}");
        Assert.Equal(0, reader["remote_storage_hit"]);
        Assert.True(reader["remote_storage_error"] >= 1, "a read token's uploads should be refused");

        // Written with user:TOKEN@ in the URL, read back with the bearer-token attribute.
        var writer = await CompileAsync(work, "writer", url.Replace("http://", $"http://ci:{node.Write}@", StringComparison.Ordinal));
        Assert.Equal(0, writer["remote_storage_error"]);
        Assert.True(writer["remote_storage_write"] >= 1);
        var hit = await CompileAsync(work, "hit", $"{url}|bearer-token={node.Read}");
        Assert.Equal(1, hit["remote_storage_hit"]);
        Assert.Equal(File.ReadAllBytes(work.Combine("writer.o")), File.ReadAllBytes(work.Combine("hit.o")));
    }
}
