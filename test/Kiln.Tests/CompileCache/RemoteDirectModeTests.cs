using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Server.Cache;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.CompileCache;

/// <summary>
/// Remote direct mode on the Kiln protocol, with real gcc on a real node: a manifest recorded after
/// a job is found again by its writer's identity and by no other, only for the job the connection
/// just ran, and FETCH hands back exactly what the compile produced. Malformed frames close the
/// connection with a clear error and the node goes on serving.
/// </summary>
public sealed class RemoteDirectModeTests : IDisposable
{
    private static readonly Dictionary<string, string> s_cLocale = new() { ["LC_ALL"] = "C" };
    private const string Source = "#include <stdio.h>\nint main(void) { int unused; puts(\"direct\"); return 0; }\n";

    private readonly TempDirectory _dir = new("kiln-remote-direct");
    private readonly TempDirectory _probeMemo = new("kiln-remote-direct-probe");

    public void Dispose()
    {
        _dir.Dispose();
        _probeMemo.Dispose();
    }

    private static byte[] Hex(string spaced) => Convert.FromHexString(spaced.Replace(" ", "", StringComparison.Ordinal));

    private static readonly ActionKey s_manifestKey = ActionKey.FromEncoding("a manifest key"u8);

    private async Task<(RemoteCompileRequest Request, byte[] LocalObject)> PrepareAsync(string source = Source)
    {
        _dir.Write("d.c", source);
        string[] args = ["-O2", "-Wall", "-c", "d.c", "-o", "local.o"];
        var command = CompileCommand.Parse("gcc", args);
        var local = await Tools.RunAsync("gcc", args, _dir.Path, new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(local.ExitCode == 0, local.Stderr);
        var preprocessed = await ProtocolTestKit.PreprocessAsync("gcc", command, _dir.Path);
        var identity = new CompilerIdentityProbe(_probeMemo.Path).Probe("/usr/bin/gcc");
        Assert.NotNull(identity);
        var key = new CompileAction(identity, command.RemoteArguments(), command.Language.Preprocessed(), Digest.FromBytes(preprocessed),
            CompileAction.MessagesLocaleOf(s_cLocale)).Key;
        var request = new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = command.RemoteArguments(),
            Language = command.Language.Preprocessed(),
            Preprocessed = preprocessed,
            SourceName = "d.c",
            OutputName = "d.o",
            Locale = s_cLocale,
            ActionKey = key,
        };
        return (request, await File.ReadAllBytesAsync(_dir.Combine("local.o")));
    }

    private static KilnManifestEntry Entry(ActionKey clientKey, string header = "d.h") =>
        new(clientKey, ActionKey.None, [new IncludedFile("d.c", Digest.FromBytes("source"u8)), new IncludedFile(header, Digest.FromBytes("header"u8))], null);

    private static KilnProtocolClient Client(string user) => new(new KilnClientOptions { ClientName = user });

    private static async Task<RemoteDirectHit?> LookUpAsync(TestNode node, string user, Func<KilnManifestEntry, bool>? matches = null)
    {
        using var client = Client(user);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await client.LookUpDirectAsync(ProtocolTestKit.Host(node), s_manifestKey, matches ?? (_ => true), cts.Token);
    }

    /// <summary>A lookup repeated for up to 5 s: a node records an entry after its answer, not before.</summary>
    private static async Task<RemoteDirectHit?> LookUpSoonAsync(TestNode node, string user)
    {
        RemoteDirectHit? hit = null;
        for (var attempt = 0; attempt < 100 && hit is null; attempt++)
        {
            hit = await LookUpAsync(node, user);
            if (hit is null)
            {
                await Task.Delay(50);
            }
        }

        return hit;
    }

    [Fact]
    public async Task AManifestRecordedAfterAJobIsFoundByItsWriterAndByNoOtherIdentity()
    {
        await using var node = await TestNode.StartAsync();
        var (request, localObject) = await PrepareAsync();
        Assert.Null(await LookUpAsync(node, "alice"));

        using (var alice = Client("alice"))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var reply = await alice.CompileAsync(ProtocolTestKit.Host(node), request, cts.Token);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            await alice.RecordAsync(ProtocolTestKit.Host(node), s_manifestKey, Entry(request.ActionKey), cts.Token);
        }

        // The record has no answer: the node stores it once the connection's frames are read.
        var hit = await LookUpSoonAsync(node, "alice");

        Assert.NotNull(hit);
        Assert.Equal(request.ActionKey, hit!.Entry.ClientKey);
        Assert.False(hit.Entry.NodeKey.IsNone);
        Assert.Equal(Entry(request.ActionKey).Files, hit.Entry.Files);
        Assert.Null(hit.Entry.DependencyFile);
        Assert.Equal(localObject, hit.Outcome.Object.ToArray());
        Assert.Contains("unused variable", System.Text.Encoding.UTF8.GetString(hit.Outcome.Stderr.Span));
        Assert.Equal(1, node.Node.Counters.CompilesOk);

        // Another identity can neither read alice's manifest nor be misled by it.
        Assert.Null(await LookUpAsync(node, "bob"));

        // An entry whose files do not match here is not fetched. Its result came behind the MANIFEST
        // (the client asks WithResult) and counts as one served hit; nothing more is counted.
        var hits = node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits;
        Assert.Null(await LookUpAsync(node, "alice", _ => false));
        Assert.Equal(hits + 1, node.Node.Services.GetRequiredService<CacheCounters>().Kiln.Hits);
    }

    [Fact]
    public async Task TheNewestEntrysResultComesWithTheManifestAndAnOlderOneIsFetched()
    {
        // The raw peer's HELLO names "raw-test-peer": that user's manifests are the ones it reads.
        const string User = "raw-test-peer";
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var host = ProtocolTestKit.Host(node.Node.KilnEndPoint);
        var (older, olderObject) = await PrepareAsync();
        var (newer, newerObject) = await PrepareAsync(Source.Replace("direct", "newer", StringComparison.Ordinal));
        Assert.NotEqual(olderObject, newerObject);
        foreach (var (request, header) in new[] { (older, "old.h"), (newer, "new.h") })
        {
            using var client = Client(User);
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var reply = await client.CompileAsync(host, request, cts.Token);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            await client.RecordAsync(host, s_manifestKey, Entry(request.ActionKey, header), cts.Token);

            // Stored after the answer: wait until the entry is there, so the two keep this order.
            var stored = false;
            for (var attempt = 0; attempt < 100 && !stored; attempt++)
            {
                using var lookup = Client(User);
                stored = await lookup.LookUpDirectAsync(host, s_manifestKey, e => e.Files[1].Path == header, cts.Token) is not null;
                await Task.Delay(stored ? 0 : 50);
            }

            Assert.True(stored, $"the entry for {header} was not recorded");
        }

        // Asked WithResult: the MANIFEST is flagged and the newest entry's RESULT follows it; asked
        // without, the MANIFEST comes alone; either way the connection goes on at a frame boundary.
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            await peer.SendAsync([RawKilnPeer.Hello(), KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey, KilnFrameFlags.WithResult)]);
            await peer.ReadWelcomeAsync();
            var manifest = await peer.ReadFrameAsync();
            Assert.Equal((KilnFrameType.Manifest, KilnFrameFlags.WithResult), (manifest!.Value.Type, manifest.Value.Flags));
            Assert.True(KilnManifest.TryParse(manifest.Value.Payload, out var entries, out _));
            Assert.Equal(["new.h", "old.h"], entries.Select(e => e.Files[1].Path));
            var eager = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Result, eager!.Value.Type);
            Assert.True(KilnResult.TryParse(eager.Value.Payload, out var result, out _));
            Assert.Equal(newerObject, result.Object.ToArray());

            await peer.SendAsync([KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey)]);
            var plain = await peer.ReadFrameAsync();
            Assert.Equal((KilnFrameType.Manifest, KilnFrameFlags.None), (plain!.Value.Type, plain.Value.Flags));
            await peer.SendAsync([KilnManifest.KeyFrame(KilnFrameType.Fetch, entries[1].NodeKey)]);
            var fetched = await peer.ReadFrameAsync();
            Assert.Equal(KilnFrameType.Result, fetched!.Value.Type);
            Assert.True(KilnResult.TryParse(fetched.Value.Payload, out var oldResult, out _));
            Assert.Equal(olderObject, oldResult.Object.ToArray());
        }

        // The client takes the newest entry's result from behind the MANIFEST, and FETCHes an older one.
        var hitsBefore = node.Node.Counters.CompilesOk;
        using (var client = Client(User))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            var newest = await client.LookUpDirectAsync(host, s_manifestKey, e => e.Files[1].Path == "new.h", cts.Token);
            Assert.Equal(newerObject, newest!.Outcome.Object.ToArray());
            var old = await client.LookUpDirectAsync(host, s_manifestKey, e => e.Files[1].Path == "old.h", cts.Token);
            Assert.Equal(olderObject, old!.Outcome.Object.ToArray());
            Assert.Null(await client.LookUpDirectAsync(host, s_manifestKey, _ => false, cts.Token));
        }

        Assert.Equal(hitsBefore, node.Node.Counters.CompilesOk);
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task AManifestFlaggedWithAResultButListingNoEntryIsAMissAndNoHang()
    {
        // A scripted node that breaks the rule: WithResult on an empty MANIFEST, and nothing behind it.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = (System.Net.IPEndPoint)listener.LocalEndpoint;
        var server = Task.Run(async () =>
        {
            using var accepted = await listener.AcceptTcpClientAsync();
            await using var peer = RawKilnPeer.Accepted(accepted);
            Assert.Equal(KilnFrameType.Hello, (await peer.ReadFrameAsync())!.Value.Type);
            var lookup = await peer.ReadFrameAsync();
            Assert.Equal((KilnFrameType.Lookup, KilnFrameFlags.WithResult), (lookup!.Value.Type, lookup.Value.Flags));
            var welcome = new KilnWelcome(KilnProtocol.Version, KilnCapabilities.Manifests, 2, 2, "scripted");
            var bytes = new byte[welcome.FrameLength];
            welcome.WriteFrame(bytes);
            var empty = KilnManifest.Encode([]);
            var manifest = new byte[KilnFrameHeader.Size + empty.Length];
            new KilnFrameHeader(KilnFrameType.Manifest, KilnFrameFlags.WithResult, empty.Length).Write(manifest);
            empty.CopyTo(manifest.AsSpan(KilnFrameHeader.Size));
            await peer.SendAsync([bytes, manifest]);
            await peer.ReadFrameAsync(TimeSpan.FromSeconds(30));
        });

        using var client = Client("alice");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Assert.Null(await client.LookUpDirectAsync(ProtocolTestKit.Host(endPoint), s_manifestKey, _ => true, cts.Token));
        await server;
    }

    [Fact]
    public async Task ARecordIsKeptOnlyForTheJobItsConnectionJustAnswered()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var (request, _) = await PrepareAsync();

        // On a connection that ran no job: dropped.
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            await peer.SendAsync(RawKilnPeer.Hello(), KilnManifest.RecordFrame(s_manifestKey, Entry(request.ActionKey)),
                KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey));
            Assert.True((await peer.ReadWelcomeAsync()).Capabilities.HasFlag(KilnCapabilities.Manifests));
            Assert.True(KilnManifest.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Manifest), out var entries, out _));
            Assert.Empty(entries);
        }

        // After a job, naming another job's key: dropped too.
        using (var client = Client("raw-test-peer"))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var reply = await client.CompileAsync(ProtocolTestKit.Host(node.Node.KilnEndPoint), request, cts.Token);
            Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
            await client.RecordAsync(ProtocolTestKit.Host(node.Node.KilnEndPoint), s_manifestKey, Entry(ActionKey.FromEncoding("another job"u8)), cts.Token);
        }

        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            // The lookup follows the record's connection closing; give the node a moment to read it.
            await Task.Delay(300);
            await peer.SendAsync(RawKilnPeer.Hello(), KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey));
            await peer.ReadWelcomeAsync();
            Assert.True(KilnManifest.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Manifest), out var entries, out _));
            Assert.Empty(entries);
        }
    }

    [Fact]
    public async Task FetchOfAnUnknownKeyIsNotCachedAndTheConnectionStaysUsable()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), KilnManifest.KeyFrame(KilnFrameType.Fetch, ActionKey.FromEncoding("nothing"u8)));
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var error, out _));
        Assert.Equal(KilnErrorCode.NotCached, error.Code);

        await peer.SendAsync(KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey));
        Assert.True(KilnManifest.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Manifest), out var entries, out _));
        Assert.Empty(entries);
    }

    [Fact]
    public async Task OnANodeWithoutAResultCacheLookupAndFetchAreRefusedAsReadsNotAsJobs()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true, configure: o => o.ResultCache = false);
        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey));
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var error, out _));
        Assert.Equal(KilnErrorCode.NotCached, error.Code);
        Assert.Contains("without a result cache", error.Message, StringComparison.Ordinal);

        // The connection stays usable, and no refused job appears in the node's ledger: none was asked for.
        await peer.SendAsync(KilnManifest.KeyFrame(KilnFrameType.Fetch, s_manifestKey));
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out error, out _));
        Assert.Equal(KilnErrorCode.NotCached, error.Code);
        Assert.Empty(node.Node.Services.GetRequiredService<Kiln.Server.Accounting.JobLedger>().Recent(10));
        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public async Task ARecordOfMoreFilesThanTheFrameCanCountIsNotSentAndTheConnectionStaysUsable()
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var (request, _) = await PrepareAsync();
        using var client = Client("many-headers");
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var host = ProtocolTestKit.Host(node.Node.KilnEndPoint);
        Assert.Equal(RemoteStatus.Completed, (await client.CompileAsync(host, request, cts.Token)).Status);
        var files = Enumerable.Range(0, KilnManifestEntry.MaxFiles + 1).Select(i => new IncludedFile("h" + i, Digest.FromBytes("x"u8))).ToArray();
        await client.RecordAsync(host, s_manifestKey, new KilnManifestEntry(request.ActionKey, ActionKey.None, files, null), cts.Token);

        // The same connection (idle again) still answers: the compile comes back from the cache.
        var again = await client.CompileAsync(host, request, cts.Token);
        Assert.True(again.Status == RemoteStatus.Completed && again.FromCache, again.Message);
    }

    /// <summary>A PREPROCESS job for d.c as gcc -M lists its files here: contents for the source, digests for /usr.</summary>
    private async Task<KilnPreprocessJob> PreprocessJobAsync(string[] args)
    {
        _dir.Write("d.c", Source);
        // -M writes to -o's file when there is one: the list goes to standard output instead.
        var listing = await Tools.RunAsync("gcc", ["-M", "-MF", "/dev/stdout", .. args.Where(a => a is not ("-MMD" or "-MD"))], _dir.Path,
            new Dictionary<string, string?> { ["LC_ALL"] = "C" });
        Assert.True(listing.ExitCode == 0, listing.Stderr);
        var files = new List<KilnPreprocessFile>();
        foreach (var name in Kiln.Server.Compile.CompileExecutor.MakeDependencies(listing.Stdout))
        {
            var content = await File.ReadAllBytesAsync(Path.Combine(_dir.Path, name));
            ReadOnlyMemory<byte>? shipped = null;
            if (!name.StartsWith("/usr/", StringComparison.Ordinal))
            {
                shipped = content;
            }

            files.Add(new KilnPreprocessFile(name, Digest.FromBytes(content), shipped));
        }

        return new KilnPreprocessJob
        {
            ManifestKey = s_manifestKey,
            Compiler = "gcc",
            Arguments = args,
            WorkingDirectory = _dir.Path,
            Locale = s_cLocale,
            Files = files,
        };
    }

    [Fact]
    public async Task PreprocessCompilesAtTheClientsPathsAndRecordsTheEntryForItsWriter()
    {
        await using var node = await TestNode.StartAsync();
        var (_, localObject) = await PrepareAsync();
        var job = await PreprocessJobAsync(["-O2", "-Wall", "-c", "d.c", "-o", "remote.o"]);
        Assert.Contains(job.Files, f => f.Name == "/usr/include/stdio.h" && f.Content is null);
        using var client = Client("alice");
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Assert.NotNull(await client.HandshakeAsync(ProtocolTestKit.Host(node), cts.Token));
        Assert.True(client.PreprocessesRemotely(ProtocolTestKit.Host(node)));
        var reply = await client.PreprocessAsync(ProtocolTestKit.Host(node), job, cts.Token);
        Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
        Assert.Equal(0, reply.Outcome!.ExitCode);

        // gcc -o local.o and -o remote.o write the same object: the output name is not in it.
        Assert.Equal(localObject, reply.Outcome.Object.ToArray());
        Assert.Contains("d.c:2:", System.Text.Encoding.UTF8.GetString(reply.Outcome.Stderr.Span));
        Assert.Null(reply.Outcome.DependencyFile);

        // The node recorded the entry for alice, pointing at the result it stored (just after its answer).
        var hit = await LookUpSoonAsync(node, "alice");

        Assert.NotNull(hit);
        Assert.Equal(job.Files.Select(f => f.Name), hit!.Entry.Files.Select(f => f.Path));
        Assert.Equal(localObject, hit.Outcome.Object.ToArray());
        Assert.Null(await LookUpAsync(node, "bob"));

        // The same job again is answered from the cache, compiled nowhere.
        var again = await client.PreprocessAsync(ProtocolTestKit.Host(node), job, cts.Token);
        Assert.True(again.FromCache, again.Message);
        Assert.Equal(1, node.Node.Counters.CompilesOk);
    }

    public static TheoryData<string> RefusedPreprocessJobs =>
        ["system file differs", "file under /etc", "-MMD", "unnamed system header", "relative escape", "too many directory trees"];

    [Theory]
    [MemberData(nameof(RefusedPreprocessJobs))]
    public async Task PreprocessThatCannotBeShownOrProvedIsRefusedAndTheConnectionServesOn(string what)
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        var args = what == "-MMD" ? new[] { "-O2", "-MMD", "-c", "d.c", "-o", "remote.o" } : ["-O2", "-c", "d.c", "-o", "remote.o"];
        var job = await PreprocessJobAsync(args);
        var files = job.Files.ToList();
        switch (what)
        {
            case "system file differs":
                var stdio = files.FindIndex(f => f.Name == "/usr/include/stdio.h");
                files[stdio] = files[stdio] with { Digest = Digest.FromBytes("not stdio.h"u8) };
                break;
            case "file under /etc":
                files.Add(new KilnPreprocessFile("/etc/kiln-test.h", Digest.FromBytes("x"u8), "x"u8.ToArray()));
                break;
            case "unnamed system header":
                files.RemoveAll(f => f.Name == "/usr/include/stdio.h");
                break;
            case "too many directory trees":
                files.AddRange(Enumerable.Range(0, 300).Select(i => new KilnPreprocessFile($"/kiln-tree-{i}/x.h", Digest.FromBytes("x"u8), "x"u8.ToArray())));
                break;
            case "relative escape":
                files.Add(new KilnPreprocessFile(string.Concat(Enumerable.Repeat("../", 40)) + "etc/x.h", Digest.FromBytes("x"u8), "x"u8.ToArray()));
                break;
        }

        await using var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint);
        await peer.SendAsync(RawKilnPeer.Hello(), (job with { Files = files }).ToFrame());
        await peer.ReadWelcomeAsync();
        Assert.True(KilnError.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Error), out var error, out _));
        Assert.True(error.Code == KilnErrorCode.PreprocessRefused, $"{what}: {error}");
        Assert.Equal(0, node.Node.Counters.CompilesOk);

        // The connection stays usable.
        await peer.SendAsync(KilnManifest.KeyFrame(KilnFrameType.Lookup, s_manifestKey));
        Assert.True(KilnManifest.TryParse(await peer.ReadFrameOfTypeAsync(KilnFrameType.Manifest), out var entries, out _));
        Assert.Empty(entries);
    }

    [Fact]
    public void MalformedPreprocessFramesAreRefusedWithTheFieldNamed()
    {
        var good = new KilnPreprocessJob
        {
            ManifestKey = s_manifestKey,
            Compiler = "gcc",
            Arguments = ["-c", "d.c"],
            WorkingDirectory = "/src",
            Files = [new KilnPreprocessFile("d.c", Digest.FromBytes("int x;\n"u8), "int x;\n"u8.ToArray())],
        };
        Assert.True(KilnPreprocessJob.TryParse(good.ToFrame().AsMemory(KilnFrameHeader.Size), out var parsed, out _));
        Assert.Equal("d.c", parsed!.Files[0].Name);
        Assert.Equal("int x;\n"u8.ToArray(), parsed.Files[0].Content!.Value.ToArray());

        // Content that is not what its digest says, a relative working directory, a name twice, a cut frame.
        var lying = good with { Files = [new KilnPreprocessFile("d.c", Digest.FromBytes("int y;\n"u8), "int x;\n"u8.ToArray())] };
        var relative = good with { WorkingDirectory = "src" };
        var twice = good with { Files = [good.Files[0], good.Files[0]] };
        foreach (var (name, payload) in new[]
        {
            ("lying", lying.ToFrame().AsMemory(KilnFrameHeader.Size)),
            ("relative", relative.ToFrame().AsMemory(KilnFrameHeader.Size)),
            ("twice", twice.ToFrame().AsMemory(KilnFrameHeader.Size)),
            ("cut", good.ToFrame().AsMemory(KilnFrameHeader.Size, 40)),
        })
        {
            Assert.False(KilnPreprocessJob.TryParse(payload, out _, out var error), name);
            Assert.Equal(KilnErrorCode.MalformedFrame, error!.Code);
        }
    }

    [Fact]
    public void MakeDependenciesAreReadAsGccWritesThem()
    {
        const string text = "out.o: s.c /usr/include/stdio.h \\\n  include/with\\ space.h dollar$$.h \\\n include/h.h\n\ninclude/h.h:\n";
        Assert.Equal(["s.c", "/usr/include/stdio.h", "include/with space.h", "dollar$.h", "include/h.h"],
            Kiln.Server.Compile.CompileExecutor.MakeDependencies(text));
    }

    public static TheoryData<string, string, KilnErrorCode> HostileFrames => new()
    {
        // LOOKUP before HELLO.
        { "no hello", "08 00 0000 00000020" + new string('1', 64), KilnErrorCode.UnexpectedFrame },
        // A key one byte short, and an all-zero key.
        { "short key", "08 00 0000 0000001f" + new string('1', 62), KilnErrorCode.MalformedFrame },
        { "zero key", "0a 00 0000 00000020" + new string('0', 64), KilnErrorCode.MalformedFrame },
        // A LOOKUP longer than a key: refused from its header.
        { "long lookup", "08 00 0000 00000021" + new string('1', 66), KilnErrorCode.FrameTooLarge },
        // A RECORD above the control-frame limit, refused before its payload arrives.
        { "huge record", "0b 00 0000 7fffffff", KilnErrorCode.FrameTooLarge },
        // A RECORD that announces 65535 files and carries none.
        { "file count", "0b 00 0000 00000083" + new string('1', 64) + new string('2', 128) + "ffff" + new string('0', 66), KilnErrorCode.MalformedFrame },
        // FETCH carries no flag (WithResult is LOOKUP's and MANIFEST's).
        { "flag on fetch", "0a 04 0000 00000020" + new string('1', 64), KilnErrorCode.MalformedFrame },
        // MANIFEST is never sent to a node.
        { "manifest to node", "09 00 0000 00000002 0000", KilnErrorCode.UnexpectedFrame },
    };

    [Theory]
    [MemberData(nameof(HostileFrames))]
    public async Task MalformedDirectModeFramesCloseTheConnectionAndTheNodeServesOn(string name, string frame, KilnErrorCode expected)
    {
        await using var node = await TestNode.StartAsync(plaintextLoopback: true);
        await using (var peer = await RawKilnPeer.ConnectAsync(node.Node.KilnEndPoint))
        {
            var bytes = Hex(frame);
            await peer.SendAsync(name == "no hello" ? [bytes] : [RawKilnPeer.Hello(), bytes]);
            var error = await peer.ReadErrorAndCloseAsync();
            Assert.True(expected == error.Code, $"{name}: {error.Code} {error.Message}");
        }

        await ProtocolTestKit.AssertServesAsync(node);
    }

    [Fact]
    public void ManifestPayloadsRoundTripAndRefuseTrailingBytes()
    {
        var entries = new List<KilnManifestEntry>
        {
            Entry(ActionKey.FromEncoding("one"u8)) with { NodeKey = ActionKey.FromEncoding("node one"u8), DependencyFile = "d.o: d.c\n"u8.ToArray() },
            Entry(ActionKey.FromEncoding("two"u8), "ü/d.h") with { NodeKey = ActionKey.FromEncoding("node two"u8), DependencyFile = Array.Empty<byte>() },
        };
        var payload = KilnManifest.Encode(entries);
        Assert.True(KilnManifest.TryParse(payload, out var back, out var error), error?.Message);
        Assert.Equal(2, back.Count);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(entries[i].ClientKey, back[i].ClientKey);
            Assert.Equal(entries[i].NodeKey, back[i].NodeKey);
            Assert.Equal(entries[i].Files, back[i].Files);
            Assert.Equal(entries[i].DependencyFile!.Value.ToArray(), back[i].DependencyFile!.Value.ToArray());
        }

        Assert.False(KilnManifest.TryParse((byte[])[.. payload, 0], out _, out var trailing));
        Assert.Contains("after the last field", trailing.Message, StringComparison.Ordinal);
        Assert.False(KilnManifest.TryParse(payload[..^1], out _, out _));

        var record = KilnManifest.RecordFrame(s_manifestKey, entries[0]);
        Assert.True(KilnManifest.TryParseRecord(record.AsMemory(KilnFrameHeader.Size), out var manifestKey, out var recorded, out error), error?.Message);
        Assert.Equal(s_manifestKey, manifestKey);
        Assert.True(recorded.NodeKey.IsNone);

        // No dependency file stays none (not an empty one) through RECORD and MANIFEST alike.
        var none = Entry(ActionKey.FromEncoding("three"u8));
        Assert.True(KilnManifest.TryParseRecord(KilnManifest.RecordFrame(s_manifestKey, none).AsMemory(KilnFrameHeader.Size), out _, out var noFile, out _));
        Assert.Null(noFile.DependencyFile);
        Assert.True(KilnManifest.TryParse(KilnManifest.Encode([none]), out var noFiles, out _));
        Assert.Null(noFiles[0].DependencyFile);
    }
}
