namespace Kiln.Tests.TestKit;

/// <summary>
/// Runs the published <c>kiln cc</c> on a source it has never seen (a new action, so a node compiles it
/// rather than answering from its cache) and checks the object against gcc's.
/// </summary>
public static class NewSourceCompile
{
    /// <summary>
    /// Writes source number <paramref name="index"/> in <paramref name="directory"/>, compiles it with
    /// <c>kiln cc gcc -O2 -c</c> through <paramref name="node"/> (KILN_DIR <paramref name="state"/>, no
    /// fallback, no local cache; <paramref name="extra"/> adds or removes variables), asserts success and
    /// gcc's object, and returns the run.
    /// </summary>
    public static async Task<Tools.Run> RunAsync(TempDirectory directory, int index, TestNode node, string state, IReadOnlyDictionary<string, string?>? extra = null)
    {
        var name = $"s{index}.c";
        directory.Write(name, $"int f{index}(int x) {{ return x * {index}; }}\n");
        var environment = new Dictionary<string, string?>
        {
            ["KILN_HOSTS"] = node.KilnHost(),
            ["DISTCC_HOSTS"] = null,
            ["KILN_DIR"] = state,
            ["KILN_FALLBACK"] = "0",
            ["KILN_CACHE_SIZE"] = "0",
            ["KILN_LOCAL_SOCKET"] = null,
            ["KILN_AGENT"] = null,
            ["LC_ALL"] = "C",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }

        var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", name, "-o", "out.o"], directory.Path, environment, TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, run.Stderr);
        var reference = await Tools.RunAsync("gcc", ["-O2", "-c", name, "-o", "ref.o"], directory.Path);
        Assert.True(reference.ExitCode == 0, reference.Stderr);
        Assert.Equal(await File.ReadAllBytesAsync(directory.Combine("ref.o")), await File.ReadAllBytesAsync(directory.Combine("out.o")));
        return run;
    }
}
