using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>
/// Targeted builds through the real <c>kiln cc</c> program against two real nodes: jobs go only to a
/// node whose compilers match the compile's platform (learned from the compiler, memoised), and
/// <c>,KEY=VALUE</c> in KILN_HOSTS keeps jobs on nodes that advertise the tag.
/// </summary>
public sealed class TargetedBuildTests : IDisposable
{
    private readonly TempDirectory _work = new("kiln-targeted");

    public void Dispose() => _work.Dispose();

    private Dictionary<string, string?> Environment(string hosts, string bin) => new()
    {
        ["KILN_HOSTS"] = hosts,
        ["KILN_DIR"] = _work.Combine("state"),
        ["KILN_FALLBACK"] = "0",
        ["KILN_VERBOSE"] = "1",
        ["DISTCC_HOSTS"] = null,
        ["KILN_SEEDS"] = null,
        ["PATH"] = bin + ":" + System.Environment.GetEnvironmentVariable("PATH"),
    };

    private string WriteSources(int count)
    {
        var src = Directory.CreateDirectory(_work.Combine("src")).FullName;
        for (var i = 0; i < count; i++)
        {
            File.WriteAllText(Path.Combine(src, $"f{i}.c"), $"int f{i}(int x) {{ return x * {i + 3}; }}\n");
        }

        return src;
    }

    [Fact]
    public async Task A_job_for_another_target_reaches_only_a_node_with_that_compiler()
    {
        var bin = _work.Combine("bin");
        CrossCompilerShim.Install(bin);
        await using var cross = await TestNode.StartAsync(slots: 2, configure: o =>
        {
            o.NodeName = "has-aarch64";
            o.CompilerDirectories.AddRange([bin, "/usr/bin"]);
        });
        await using var native = await TestNode.StartAsync(slots: 2, configure: o => o.NodeName = "native-only");

        // The nodes say what they run in WELCOME (and TXT); the native node has no aarch64 compiler.
        using (var client = new KilnProtocolClient())
        {
            var welcome = await client.HandshakeAsync(Host(cross), CancellationToken.None);
            Assert.Contains(welcome!.Attributes, a => a.StartsWith("compilers=", StringComparison.Ordinal) && a.Contains(CrossCompilerShim.Platform));
            var plain = await client.HandshakeAsync(Host(native), CancellationToken.None);
            Assert.Contains(plain!.Attributes, a => a.StartsWith("compilers=", StringComparison.Ordinal) && a.Contains("gcc:x86_64-linux-gnu:"));
            Assert.DoesNotContain(plain.Attributes, a => a.Contains("aarch64"));
        }

        var src = WriteSources(6);
        var env = Environment($"{cross.Node.KilnEndPoint}/4 {native.Node.KilnEndPoint}/4", bin);
        for (var i = 0; i < 6; i++)
        {
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", CrossCompilerShim.Name, "-O2", "-c", $"f{i}.c", "-o", $"f{i}.arm.o"], src, env);
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Contains($"compiled on {cross.Node.KilnEndPoint}", run.Stderr);
            Assert.Equal(183, CrossCompilerShim.ElfMachine(Path.Combine(src, $"f{i}.arm.o")));
        }

        Assert.Equal(6, cross.Node.Counters.KilnJobs);
        Assert.Equal(0, native.Node.Counters.KilnJobs);

        // Native compiles may go to either node, and with no node for a platform and KILN_FALLBACK=0 the compile fails and says why.
        for (var i = 0; i < 6; i++)
        {
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-O2", "-c", $"f{i}.c", "-o", $"f{i}.o"], src, env);
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.Equal(62, CrossCompilerShim.ElfMachine(Path.Combine(src, $"f{i}.o")));
        }

        Assert.Equal(12, cross.Node.Counters.KilnJobs + native.Node.Counters.KilnJobs);
        var nativeJobs = native.Node.Counters.KilnJobs;
        var nowhere = await Tools.RunAsync(Tools.KilnBinary, ["cc", CrossCompilerShim.Name, "-c", "f0.c", "-o", "x.o"], src,
            Environment($"{native.Node.KilnEndPoint}/4", bin));
        Assert.Equal(1, nowhere.ExitCode);
        Assert.Contains($"no node has the compiler this compile needs ({CrossCompilerShim.Platform}", nowhere.Stderr);
        Assert.Equal(nativeJobs, native.Node.Counters.KilnJobs);
    }

    [Fact]
    public async Task Tags_in_the_host_list_keep_jobs_on_nodes_that_advertise_them()
    {
        await using var fast = await TestNode.StartAsync(slots: 2, configure: o => o.Tags["pool"] = "fast");
        await using var slow = await TestNode.StartAsync(slots: 2, configure: o => o.Tags["pool"] = "slow");
        var src = WriteSources(6);
        var env = Environment($"{fast.Node.KilnEndPoint}/4,pool=fast {slow.Node.KilnEndPoint}/4,pool=fast", _work.Combine("bin"));
        for (var i = 0; i < 6; i++)
        {
            var run = await Tools.RunAsync(Tools.KilnBinary, ["cc", "gcc", "-c", $"f{i}.c", "-o", $"f{i}.o"], src, env);
            Assert.True(run.ExitCode == 0, run.Stderr);
        }

        Assert.Equal(6, fast.Node.Counters.KilnJobs);
        Assert.Equal(0, slow.Node.Counters.KilnJobs);
    }

    private static HostSpec Host(TestNode node) => HostListParser.ParseHost(node.Node.KilnEndPoint.ToString(), out _)! with { Fingerprint = node.Fingerprint };
}
