using Kiln.Tests.TestKit;

namespace Kiln.Tests.Trust;

/// <summary>The key and trust commands, run as the real program.</summary>
public sealed class TrustCommandTests
{
    private static async Task<Tools.Run> Kiln(TempDirectory config, params string[] args) =>
        await Tools.RunAsync(Tools.KilnBinary, args, environment: new Dictionary<string, string?> { ["KILN_CONFIG"] = config.Path });

    [Fact]
    public async Task KeyNewShowAndTrustLifecycle()
    {
        using var config = new TempDirectory();
        var made = await Kiln(config, "key", "new");
        Assert.Equal(0, made.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(config.Combine("signing.key")));

        var again = await Kiln(config, "key", "new");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);

        var shown = await Kiln(config, "key", "show");
        var parts = shown.Stdout.Trim().Split(' ');
        Assert.StartsWith("ed25519:", parts[0]);
        var id = parts[1];

        Assert.Equal(0, (await Kiln(config, "trust", "add", "alice", parts[0])).ExitCode);
        var list = await Kiln(config, "trust", "list");
        Assert.Contains("alice", list.Stdout);
        Assert.Contains($"{id}  active", list.Stdout);

        Assert.Equal(0, (await Kiln(config, "trust", "revoke", id)).ExitCode);
        Assert.Contains($"{id}  revoked", (await Kiln(config, "trust", "list")).Stdout);

        var unknown = await Kiln(config, "trust", "revoke", "0000000000000000");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no trusted key", unknown.Stderr);

        var bad = await Kiln(config, "trust", "add", "bob", "ed25519:notbase64!");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("not a public key", bad.Stderr);
    }
}
