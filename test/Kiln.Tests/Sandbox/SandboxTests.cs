using System.Text;
using Kiln.Core.Compile;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Tests.Distcc;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Sandbox;

/// <summary>
/// Jobs cannot reach past their job directory: bubblewrap hides the node's files (a pump job's
/// <c>#include "/etc/shadow"</c>, a Kiln job's <c>.incbin "/etc/shadow"</c>), outputs are named by the
/// node, and a job that exceeds the CPU or memory limit is refused by name while the node keeps serving.
/// </summary>
public sealed class SandboxTests
{
    private static readonly Dictionary<string, string> s_cLocale = new() { ["LC_ALL"] = "C" };

    private static async Task<RemoteCompileReply> CompileAsync(TestNode node, RemoteCompileRequest request)
    {
        using var client = new KilnProtocolClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        return await client.CompileAsync(ProtocolTestKit.Host(node), request, cts.Token);
    }

    private static string Stderr(RemoteCompileReply reply) => reply.Outcome is { } outcome ? Encoding.UTF8.GetString(outcome.Stderr.Span) : "";

    private static void AssertSandboxed(TestNode node) =>
        Assert.True(node.Node.Executor.Sandbox.BubblewrapPath is not null, "bubblewrap is not installed (apt-get install bubblewrap): jobs run unconfined");

    [Fact]
    public async Task Pump_job_that_includes_etc_shadow_fails_with_a_clear_error()
    {
        await using var node = await TestNode.StartAsync(distcc: true);
        AssertSandboxed(node);

        // An absolute include is not a client file: it names the node's own /etc/shadow, which the
        // node (root here) could read without the sandbox.
        var request = DistccHostileInputTests.PumpRequest(
            ("/work/proj/main.c", "#include \"/etc/shadow\"\nint main(void) { return 0; }\n", null));
        var reply = await DistccTestKit.ParseReplyAsync(await DistccTestKit.ExchangeAsync(node.Node.DistccEndPoint!, request, halfClose: false), compressed: true);

        Assert.Equal(1, reply.ExitCode);
        Assert.Contains("/etc/shadow: No such file or directory", reply.Stderr);
        Assert.DoesNotContain("root:", reply.Stderr);
        Assert.Empty(reply.Object);
        await DistccTestKit.AssertServesValidJobAsync(node.Node.DistccEndPoint!);
    }

    [Fact]
    public async Task Kiln_job_that_assembles_in_etc_shadow_fails_with_a_clear_error()
    {
        await using var node = await TestNode.StartAsync();
        AssertSandboxed(node);

        // Preprocessing happened on the client, but the assembler still opens files: .incbin would
        // copy the node's /etc/shadow into the object handed back.
        var reply = await CompileAsync(node, ProtocolTestKit.SmallRequest() with
        {
            Preprocessed = "__asm__(\".section .rodata\\n.incbin \\\"/etc/shadow\\\"\\n.previous\");\nint answer(void) { return 42; }\n"u8.ToArray(),
            Locale = s_cLocale,
        });

        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.NotEqual(0, reply.Outcome!.ExitCode);
        Assert.Contains("file not found: /etc/shadow", Encoding.UTF8.GetString(reply.Outcome.Stderr.Span));
        Assert.True(reply.Outcome.Object.IsEmpty);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Theory]
    [InlineData("-o", "/tmp/kiln-evil.o", "'-o /tmp/kiln-evil.o' refused: the output path is outside the job's directory")]
    [InlineData("-MF", "../../evil.d", "'-MF ../../evil.d' refused: the output path is outside the job's directory")]
    [InlineData("-fplugin=/tmp/evil.so", null, "'-fplugin=/tmp/evil.so' refused: plugins load code into the compiler")]
    [InlineData("-B/tmp/evil/", null, "'-B/tmp/evil/' refused: it chooses which programs the compiler runs")]
    [InlineData("@/tmp/args", null, "'@/tmp/args' refused: response files are read from the node's disk")]
    [InlineData("-specs=/tmp/evil.specs", null, "'-specs=/tmp/evil.specs' refused: specs files can run other programs")]
    [InlineData("-wrapper", "/bin/sh,-c", "'-wrapper' refused: it chooses which programs the compiler runs")]
    public async Task Arguments_that_escape_the_job_are_refused_by_name(string argument, string? value, string expected)
    {
        await using var node = await TestNode.StartAsync();
        var reply = await CompileAsync(node, ProtocolTestKit.SmallRequest(arguments: value is null ? ["-O2", argument] : ["-O2", argument, value]));

        Assert.Equal(RemoteStatus.Refused, reply.Status);
        Assert.Contains(expected, reply.Message);
        Assert.False(File.Exists("/tmp/kiln-evil.o"));
        Assert.Equal(0, node.Node.Counters.CompilesOk);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task Job_over_the_cpu_limit_is_refused_by_name_and_the_node_keeps_serving()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.Jobs.CpuSeconds = 1);

        // A constexpr loop of 2e9 steps: many CPU seconds in cc1plus, a few bytes of input.
        var reply = await CompileAsync(node, new RemoteCompileRequest
        {
            Compiler = "g++",
            Arguments = ["-fconstexpr-loop-limit=2147483647", "-fconstexpr-ops-limit=9223372036854775807"],
            Language = SourceLanguage.PreprocessedCxx,
            Preprocessed = "constexpr long spin() { long s = 0; for (long i = 0; i < 2000000000L; i++) s += i & 7; return s; }\nstatic_assert(spin() > 0);\nint y;\n"u8.ToArray(),
            SourceName = "spin.cc",
            OutputName = "spin.o",
            Locale = s_cLocale,
        });

        Assert.True(reply.Status == RemoteStatus.Refused, $"{reply.Status}: {reply.Message} {Stderr(reply)}");
        Assert.Contains("exceeded this node's CPU time limit of 1 s per process (kiln serve --job-cpu)", reply.Message);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task Job_over_the_memory_limit_is_refused_by_name_and_the_node_keeps_serving()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.Jobs.MemoryBytes = 64L << 20);
        using var dir = new TempDirectory("kiln-sandbox-mem");

        // All of libstdc++'s headers: about 3.5 MB preprocessed, well over 64 MiB of address space in
        // cc1plus, while a small C compile fits in it.
        dir.Write("heavy.cc", "#include <bits/stdc++.h>\nint main() { std::regex r(\"a+\"); return 0; }\n");
        var cpp = await Tools.RunAsync("g++", ["-E", "heavy.cc", "-o", "heavy.ii"], dir.Path);
        Assert.True(cpp.ExitCode == 0, cpp.Stderr);
        var reply = await CompileAsync(node, new RemoteCompileRequest
        {
            Compiler = "g++",
            Arguments = ["-O2"],
            Language = SourceLanguage.PreprocessedCxx,
            Preprocessed = await File.ReadAllBytesAsync(dir.Combine("heavy.ii")),
            SourceName = "heavy.cc",
            OutputName = "heavy.o",
            Locale = s_cLocale,
        });

        Assert.True(reply.Status == RemoteStatus.Refused, $"{reply.Status}: {reply.Message} {Stderr(reply)}");
        Assert.Contains("exceeded this node's memory limit of 64 MiB per process (kiln serve --job-memory)", reply.Message);
        await ProtocolTestKit.AssertServesAsync(node);
    }
}
