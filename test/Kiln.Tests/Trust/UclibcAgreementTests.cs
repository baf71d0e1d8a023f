using System.Collections.Concurrent;
using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Server.Trust;
using Kiln.Tests.EndToEnd;
using Kiln.Tests.TestKit;
using Xunit.Abstractions;

namespace Kiln.Tests.Trust;

/// <summary>
/// uClibc-ng's compiles, each run independently on two nodes: every pair of "executed"
/// attestations names the same ResultDigest, so nothing is contested and k = 2 over the two node
/// keys holds for every object. A fixed sample of the 796 compiles by default (the machine is shared).
/// </summary>
public sealed class UclibcAgreementTests(ITestOutputHelper output)
{
    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task TwoNodesBuildingUclibcIndependentlyAttestTheSameResults()
    {
        using var work = new TempDirectory("kiln-trust-uclibc");
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));

        // The build's compile commands, recorded by a compiler that only notes each one (working
        // directory, then arguments) and leaves an empty object: the nodes do the compiling. Link
        // steps then fail on the empty objects, so make runs with -k and its status is not checked.
        var captures = Directory.CreateDirectory(work.Combine("captures")).FullName;
        var wrapper = work.Combine("capture-gcc");
        await File.WriteAllTextAsync(wrapper, $$"""
            #!/bin/sh
            for a; do [ "$a" = -c ] && compile=1; [ "$prev" = -o ] && out=$a; prev=$a; done
            [ -z "$compile" ] && exec gcc "$@"
            printf '%s\0' "$PWD" "$@" > {{captures}}/$$-$(date +%s%N)
            : > "$out"

            """);
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _ = await Tools.RunAsync("make", ["-C", tree, "-k", "-j2", $"CC={wrapper}"], tree,
            new Dictionary<string, string?> { ["MAKEFLAGS"] = null, ["CC"] = null }, Workloads.BuildTimeout);

        // A fixed sample (every Nth command by file name; KILN_TRUST_UCLIBC_EVERY=1 takes all), so the
        // test fits a loaded machine: each node compiles every sampled file.
        var every = int.TryParse(Environment.GetEnvironmentVariable("KILN_TRUST_UCLIBC_EVERY"), out var n) && n > 0 ? n : 8;
        var recorded = Directory.GetFiles(captures).Order(StringComparer.Ordinal).ToList();
        Assert.True(recorded.Count >= 790, $"{recorded.Count} compile commands recorded; a defconfig build has 796");
        var sample = recorded.Where((_, i) => i % every == 0).ToList();

        // Each distributable C compile becomes an action: preprocessed here, as kiln cc does.
        var jobs = new ConcurrentDictionary<ActionKey, (CompileAction Action, byte[] Input)>();
        await Parallel.ForEachAsync(sample, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (file, token) =>
        {
            var fields = (await File.ReadAllTextAsync(file, token)).Split('\0', StringSplitOptions.None)[..^1];
            var command = CompileCommand.Parse("gcc", fields[1..]);
            if (!command.IsDistributable || command.Language != SourceLanguage.C)
            {
                return;
            }

            var input = await PreprocessAsync(fields[0], command.PreprocessArguments(), token);
            var action = new CompileAction(TrustNodes.Gcc(), command.RemoteArguments(), command.Language.Preprocessed(), Digest.FromBytes(input), "C");
            jobs[action.Key] = (action, input);
        });
        Assert.True(jobs.Count >= sample.Count * 9 / 10, $"{jobs.Count} of the {sample.Count} sampled commands are distributable C compiles");

        await using var nodeB = await TrustNodes.StartAsync(51, Trusting);
        await using var nodeA = await TrustNodes.StartAsync(50, o =>
        {
            Trusting(o);
            o.Trust.Peers.Add(new Uri($"http://{nodeB.Node.HttpEndPoint}"));
            o.Trust.ExchangeInterval = TimeSpan.FromMilliseconds(500);
        });

        // Both nodes compile every action, independently and at once.
        var resultsA = new ConcurrentDictionary<ActionKey, ActionResult>();
        var resultsB = new ConcurrentDictionary<ActionKey, ActionResult>();
        await Task.WhenAll(
            Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (job, token) =>
                resultsA[job.Key] = await TrustNodes.ExecuteAsync(nodeA, job.Value.Action, job.Value.Input, token)),
            Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (job, token) =>
                resultsB[job.Key] = await TrustNodes.ExecuteAsync(nodeB, job.Value.Action, job.Value.Input, token)));

        var agree = jobs.Keys.Count(k => resultsA[k].ResultDigest == resultsB[k].ResultDigest);
        output.WriteLine($"uClibc-ng: {recorded.Count} compiles recorded, {jobs.Count} sampled (every {every}) and built by two nodes: {agree} attested results agree, {jobs.Count - agree} differ");
        Assert.Equal(jobs.Count, agree);

        // After the exchange node A holds both signatures for every action: k = 2 holds, nothing is contested.
        var store = TrustNodes.Service<AttestationStore>(nodeA);
        await Wait.UntilAsync(() => store.Count() >= 2L * jobs.Count, "node B's attestations on node A", TimeSpan.FromMinutes(2));
        Assert.Empty(store.Contested(10));
        var quorum = TrustNodes.Service<NodeTrust>(nodeA).Find("quorum")!;
        Assert.All(jobs.Keys, k => Assert.Equal(resultsA[k].ResultDigest, quorum.Decide(k, store.ForAction(k)).Accepted));
    }

    private static void Trusting(Kiln.Server.Hosting.KilnNodeOptions o)
    {
        o.Slots = 2;
        o.Trust.Policies["quorum"] = TrustNodes.Policy(2, ("node-a", TrustNodes.Key(50)), ("node-b", TrustNodes.Key(51)));
    }

    private static async Task<byte[]> PreprocessAsync(string directory, List<string> arguments, CancellationToken cancellationToken)
    {
        var info = new System.Diagnostics.ProcessStartInfo("gcc") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        arguments.ForEach(info.ArgumentList.Add);
        using var process = System.Diagnostics.Process.Start(info)!;
        using var copy = new MemoryStream();
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.BaseStream.CopyToAsync(copy, cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        Assert.True(process.ExitCode == 0, $"gcc -E in {directory}: {await stderr}");
        return copy.ToArray();
    }
}
