using Kiln.Core.Compile;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Protocol;

/// <summary>Shared steps of the protocol tests: host specs, preprocessing with gcc, and a proof that a node still compiles.</summary>
internal static class ProtocolTestKit
{
    private static readonly byte[] s_elf = [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>A plaintext host (<c>,plain</c>): the scripted nodes of these tests speak frames without TLS.</summary>
    public static HostSpec Host(System.Net.IPEndPoint endPoint) => new()
    {
        Text = endPoint.ToString(),
        Kind = HostKind.Tcp,
        Host = endPoint.Address.ToString(),
        Port = endPoint.Port,
        Limit = 4,
        Plaintext = true,
    };

    /// <summary>A real node over TLS, its certificate pinned.</summary>
    public static HostSpec Host(TestNode node) => Host(node.Node.KilnEndPoint) with { Plaintext = false, Fingerprint = node.Fingerprint };

    /// <summary>A tiny, already preprocessed C source.</summary>
    public static RemoteCompileRequest SmallRequest(string compiler = "gcc", IReadOnlyList<string>? arguments = null, int value = 42) => new()
    {
        Compiler = compiler,
        Arguments = arguments ?? ["-O2"],
        Language = SourceLanguage.PreprocessedC,
        Preprocessed = System.Text.Encoding.ASCII.GetBytes($"int answer(void) {{ return {value}; }}\n"),
        SourceName = "answer.c",
        OutputName = "answer.o",
    };

    /// <summary>Proves the node still serves: a fresh client compiles a small source to an ELF object.</summary>
    public static async Task AssertServesAsync(TestNode node)
    {
        using var client = new KilnProtocolClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reply = await client.CompileAsync(Host(node), SmallRequest(), cts.Token);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.True(reply.Outcome.Object.Span.StartsWith(s_elf), "the object is not an ELF file");
    }

    /// <summary>Preprocesses a source the way <c>kiln cc</c> does: <see cref="CompileCommand.PreprocessArguments"/>, i.e. <c>gcc -E</c>.</summary>
    public static async Task<byte[]> PreprocessAsync(string compiler, CompileCommand command, string directory)
    {
        var run = await Tools.RunAsync(compiler, command.PreprocessArguments(), directory, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(run.ExitCode == 0, run.Stderr);
        return System.Text.Encoding.UTF8.GetBytes(run.Stdout);
    }
}
