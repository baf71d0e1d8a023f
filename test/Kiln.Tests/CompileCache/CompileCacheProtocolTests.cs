using Kiln.Core.Actions;
using Kiln.Core.Cas;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Server.Cache;
using Kiln.Server.CompileCache;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.CompileCache;

/// <summary>
/// Hash-first caching on the Kiln protocol with real gcc: a second client gets the first one's result
/// from the node's cache, the node answers a known key before any input arrives, and a client that
/// names the wrong key cannot make the node store a lie under it.
/// </summary>
public sealed class CompileCacheProtocolTests : IDisposable
{
    private static readonly Dictionary<string, string> s_cLocale = new() { ["LC_ALL"] = "C" };

    // A warning puts bytes in stderr, so the test proves stderr comes back from the cache too.
    private const string WarningSource = "#include <stdio.h>\nint main(void) { int unused; puts(\"cached\"); return 0; }\n";
    private const string OtherSource = "int answer(void) { return 42; }\n";

    private readonly TempDirectory _dir = new("kiln-cc-cache");
    private readonly TempDirectory _probeMemo = new("kiln-cc-cache-probe");

    public void Dispose()
    {
        _dir.Dispose();
        _probeMemo.Dispose();
    }

    private sealed record Prepared(RemoteCompileRequest Request, ActionKey Key, byte[] LocalObject, string LocalStderr);

    /// <summary>Preprocesses <paramref name="source"/> as kiln cc does, computes its ActionKey, and compiles it locally for reference.</summary>
    private async Task<Prepared> PrepareAsync(string name, string source, params string[] flags)
    {
        _dir.Write(name, source);
        var localObject = "local-" + Path.ChangeExtension(name, ".o");
        var args = new List<string>(flags) { "-c", name, "-o", localObject };
        var command = CompileCommand.Parse("gcc", args);
        Assert.True(command.IsDistributable, command.LocalReason);
        var local = await Tools.RunAsync("gcc", args, _dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(local.ExitCode == 0, local.Stderr);
        var preprocessed = await ProtocolTestKit.PreprocessAsync("gcc", command, _dir.Path);
        var identity = new CompilerIdentityProbe(_probeMemo.Path).Probe("/usr/bin/gcc");
        Assert.NotNull(identity);
        var input = Digest.FromBytes(preprocessed);
        var key = new CompileAction(identity, command.RemoteArguments(), command.Language.Preprocessed(), input, CompileAction.MessagesLocaleOf(s_cLocale)).Key;
        var request = new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = command.RemoteArguments(),
            Language = command.Language.Preprocessed(),
            Preprocessed = preprocessed,
            SourceName = name,
            OutputName = localObject,
            WorkingDirectory = _dir.Path,
            Locale = s_cLocale,
            ActionKey = key,
        };
        return new Prepared(request, key, await File.ReadAllBytesAsync(_dir.Combine(localObject)), local.Stderr);
    }

    private static async Task<CompileOutcome> CompileAsync(TestNode node, RemoteCompileRequest request)
    {
        using var client = new KilnProtocolClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var reply = await client.CompileAsync(ProtocolTestKit.Host(node), request, cts.Token);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        return reply.Outcome!;
    }

    private static CacheCounters CacheCounters(TestNode node) => node.Node.Services.GetRequiredService<CacheCounters>();

    [Fact]
    public async Task SecondClientGetsTheFirstClientsResultWithoutASecondCompile()
    {
        await using var node = await TestNode.StartAsync();
        var job = await PrepareAsync("warn.c", WarningSource, "-O2", "-Wall");

        var first = await CompileAsync(node, job.Request);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(job.LocalObject, first.Object.ToArray());
        Assert.Contains("unused variable", System.Text.Encoding.UTF8.GetString(first.Stderr.Span));
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // The entry is under the key the client computed, because the node computed the same one
        // (stored beside the answer: the node's own lookups wait for it, a direct read must too).
        await StoredAsync(node);
        var actions = node.Node.Services.GetRequiredService<IActionCache>();
        Assert.NotNull(await actions.GetAsync(CompileResultCache.Namespace, job.Key.Hex, CancellationToken.None));

        var second = await CompileAsync(node, job.Request);
        Assert.Equal(first.ExitCode, second.ExitCode);
        Assert.Equal(first.Object.ToArray(), second.Object.ToArray());
        Assert.Equal(first.Stdout.ToArray(), second.Stdout.ToArray());
        Assert.Equal(first.Stderr.ToArray(), second.Stderr.ToArray());
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(2, node.Node.Counters.KilnJobs);
        Assert.Equal(1, CacheCounters(node).Kiln.Hits);
        Assert.Equal(1, CacheCounters(node).Kiln.Writes);
    }

    [Fact]
    public async Task WithTheResultCacheOffEveryJobIsCompiledAndNothingIsStored()
    {
        await using var node = await TestNode.StartAsync(configure: o => o.ResultCache = false);
        var job = await PrepareAsync("warn.c", WarningSource, "-O2", "-Wall");

        var first = await CompileAsync(node, job.Request);
        var second = await CompileAsync(node, job.Request);

        Assert.Equal(job.LocalObject, first.Object.ToArray());
        Assert.Equal(first.Object.ToArray(), second.Object.ToArray());
        Assert.Equal(2, node.Node.Counters.CompilesOk);
        Assert.Equal(0, CacheCounters(node).Kiln.Hits);
        Assert.Equal(0, CacheCounters(node).Kiln.Writes);
        var actions = node.Node.Services.GetRequiredService<IActionCache>();
        Assert.Null(await actions.GetAsync(CompileResultCache.Namespace, job.Key.Hex, CancellationToken.None));
    }

    [Fact]
    public async Task AKnownKeyIsAnsweredBeforeAnyInputArrivesAndTheConnectionStaysUsable()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var job = await PrepareAsync("warn.c", WarningSource, "-O2", "-Wall");
        var first = await CompileAsync(node, job.Request);

        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        var hello = new KilnHello(1, 1, KilnCapabilities.None, "", "raw");
        var jobFrame = JobFrame(job.Request, job.Key);
        var helloFrame = new byte[hello.FrameLength];
        hello.WriteFrame(helloFrame);
        await peer.SendAsync(helloFrame, jobFrame);
        var welcome = await peer.ReadWelcomeAsync();
        Assert.True(welcome.Capabilities.HasFlag(KilnCapabilities.ResultCache));

        // Not one INPUT byte has been sent: the answer can only come from the key.
        var payload = await peer.ReadFrameOfTypeAsync(KilnFrameType.Result);
        Assert.True(KilnResult.TryParse(payload, out var result, out _));
        Assert.Equal(first.Object.ToArray(), result.Object.ToArray());
        Assert.Equal(first.Stderr.ToArray(), result.Stderr.ToArray());

        // The client stops sending: one empty LAST INPUT ends the job, and the connection takes the next JOB.
        await peer.SendAsync(InputFrame([], last: true));
        await peer.SendAsync(jobFrame, InputFrame(job.Request.Preprocessed.ToArray(), last: true));
        payload = await peer.ReadFrameOfTypeAsync(KilnFrameType.Result);
        Assert.True(KilnResult.TryParse(payload, out result, out _));
        Assert.Equal(job.LocalObject, result.Object.ToArray());
        Assert.Equal(1, node.Node.Counters.CompilesOk);
        Assert.Equal(2, CacheCounters(node).Kiln.Hits);
    }

    [Fact]
    public async Task ACacheHitIsMarkedOnlyForClientsThatAskedForIt()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var job = await PrepareAsync("warn.c", WarningSource, "-O2", "-Wall");
        using var client = new KilnProtocolClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var compiled = await client.CompileAsync(ProtocolTestKit.Host(node), job.Request, cts.Token);
        Assert.True(compiled.Status == RemoteStatus.Completed, compiled.Message);
        Assert.False(compiled.FromCache);
        var hit = await client.CompileAsync(ProtocolTestKit.Host(node), job.Request, cts.Token);
        Assert.True(hit.Status == RemoteStatus.Completed, hit.Message);
        Assert.True(hit.FromCache);
        Assert.Equal(compiled.Outcome!.Object.ToArray(), hit.Outcome!.Object.ToArray());
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // The same hit for a client that did not announce ResultOrigin carries no flag it would refuse.
        foreach (var capabilities in new[] { KilnCapabilities.None, KilnCapabilities.ResultOrigin })
        {
            await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
            var hello = new KilnHello(1, 1, capabilities, "", "raw");
            var helloFrame = new byte[hello.FrameLength];
            hello.WriteFrame(helloFrame);
            await peer.SendAsync(helloFrame, JobFrame(job.Request, job.Key));
            await peer.ReadWelcomeAsync();
            var frame = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Result, frame!.Value.Type);
            Assert.Equal(capabilities == KilnCapabilities.None ? KilnFrameFlags.None : KilnFrameFlags.FromCache, frame.Value.Flags);
            await peer.SendAsync(InputFrame([], last: true));
        }

        // FROM_CACHE is a RESULT flag only: on any other frame it is malformed.
        var header = new byte[KilnFrameHeader.Size];
        new KilnFrameHeader(KilnFrameType.Job, KilnFrameFlags.FromCache, 0).Write(header);
        Assert.False(KilnFrameHeader.TryRead(header, _ => 1 << 20, out _, out var error));
        Assert.Equal(KilnErrorCode.MalformedFrame, error.Code);
        new KilnFrameHeader(KilnFrameType.Result, KilnFrameFlags.FromCache, 0).Write(header);
        Assert.True(KilnFrameHeader.TryRead(header, _ => 1 << 20, out var read, out _));
        Assert.Equal(KilnFrameFlags.FromCache, read.Flags);
    }

    [Fact]
    public async Task AClientLyingAboutItsKeyCannotPoisonTheEntry()
    {
        await using var node = await TestNode.StartAsync();
        var honest = await PrepareAsync("warn.c", WarningSource, "-O2", "-Wall");
        var other = await PrepareAsync("other.c", OtherSource, "-O2", "-Wall");

        // The liar names the honest job's key but sends other.c's input (with its true digest).
        var lie = await CompileAsync(node, other.Request with { ActionKey = honest.Key });
        Assert.Equal(other.LocalObject, lie.Object.ToArray());
        await StoredAsync(node);
        var actions = node.Node.Services.GetRequiredService<IActionCache>();
        Assert.Null(await actions.GetAsync(CompileResultCache.Namespace, honest.Key.Hex, CancellationToken.None));
        Assert.NotNull(await actions.GetAsync(CompileResultCache.Namespace, other.Key.Hex, CancellationToken.None));

        // The honest client gets its own object, compiled, and the entry now holds it.
        var truth = await CompileAsync(node, honest.Request);
        Assert.Equal(honest.LocalObject, truth.Object.ToArray());
        Assert.Equal(2, node.Node.Counters.CompilesOk);
        var again = await CompileAsync(node, honest.Request);
        Assert.Equal(honest.LocalObject, again.Object.ToArray());
        Assert.Equal(2, node.Node.Counters.CompilesOk);

        // A liar that asks with other.c's key for warn.c's input gets other.c's result: its own
        // question's answer. Nothing it sends changes what is stored.
        var entryBefore = await actions.GetAsync(CompileResultCache.Namespace, honest.Key.Hex, CancellationToken.None);
        _ = await CompileAsync(node, honest.Request with { ActionKey = other.Key });
        await StoredAsync(node);
        var entryAfter = await actions.GetAsync(CompileResultCache.Namespace, honest.Key.Hex, CancellationToken.None);
        Assert.Equal(entryBefore!.Value, entryAfter!.Value);
        Assert.Equal(2, node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task AFailedCompileIsNotStored()
    {
        await using var node = await TestNode.StartAsync();
        _dir.Write("bad.c", "int main(void) { return undefined_name; }\n");
        string[] args = ["-O2", "-c", "bad.c", "-o", "bad.o"];
        var command = CompileCommand.Parse("gcc", args);
        var preprocessed = await ProtocolTestKit.PreprocessAsync("gcc", command, _dir.Path);
        var request = new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = command.RemoteArguments(),
            Language = SourceLanguage.PreprocessedC,
            Preprocessed = preprocessed,
            SourceName = "bad.c",
            OutputName = "bad.o",
            Locale = s_cLocale,
        };
        Assert.Equal(1, (await CompileAsync(node, request)).ExitCode);
        Assert.Equal(1, (await CompileAsync(node, request)).ExitCode);
        Assert.Equal(2, node.Node.Counters.CompilesFailed);
        Assert.Equal(0, CacheCounters(node).Kiln.Writes);
    }

    private static Task StoredAsync(TestNode node) => node.Node.Services.GetRequiredService<CompileResultCache>().WhenStoredAsync();

    private static byte[] JobFrame(RemoteCompileRequest request, ActionKey key)
    {
        var job = new KilnJob
        {
            ActionKey = key,
            InputDigest = Digest.FromBytes(request.Preprocessed.Span),
            InputSize = request.Preprocessed.Length,
            Language = request.Language,
            Compiler = request.Compiler,
            Arguments = request.Arguments,
            SourceName = request.SourceName,
            Locale = request.Locale,
        };
        var frame = new byte[job.FrameLength];
        job.WriteFrame(frame);
        return frame;
    }

    private static byte[] InputFrame(byte[] bytes, bool last)
    {
        var frame = new byte[KilnFrameHeader.Size + bytes.Length];
        new KilnFrameHeader(KilnFrameType.Input, last ? KilnFrameFlags.Last : KilnFrameFlags.None, bytes.Length).Write(frame);
        bytes.CopyTo(frame, KilnFrameHeader.Size);
        return frame;
    }
}
