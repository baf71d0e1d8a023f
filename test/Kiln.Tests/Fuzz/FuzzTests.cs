using System.Diagnostics;
using System.Globalization;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// Mutation fuzzing of every network parser, replayed as tests: the committed corpus
/// (<c>test/Kiln.Tests/Fuzz/corpus/TARGET/</c>) first, then mutations of it from a fixed seed, each
/// input under a deadline so a hang fails with the input that caused it. The default count keeps the
/// whole set to a few seconds; <c>bench/fuzz.sh</c> raises it (<c>KILN_FUZZ_INPUTS</c>,
/// <c>KILN_FUZZ_SECONDS</c>, <c>KILN_FUZZ_SEED</c>) and reports the inputs tried per parser.
/// </summary>
public sealed class FuzzTests
{
    /// <summary>Mutated inputs per target in the test suite.</summary>
    private const int DefaultInputs = 1000;

    /// <summary>Longest any one input may take before it counts as a hang.</summary>
    private static readonly TimeSpan s_inputDeadline = TimeSpan.FromSeconds(10);

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Parser_survives_its_corpus_and_mutations(string target)
    {
        var corpus = FuzzCorpus.Load(target);
        Assert.True(corpus.Count > 0, $"no corpus for {target} in {FuzzCorpus.Directory(target)}");
        var run = FuzzTargets.All[target];
        var seed = Setting("KILN_FUZZ_SEED", 20261121);
        var inputs = Setting("KILN_FUZZ_INPUTS", DefaultInputs);
        var seconds = Setting("KILN_FUZZ_SECONDS", 0);

        var tried = 0;
        foreach (var entry in corpus)
        {
            await RunOneAsync(target, run, entry);
            tried++;
        }

        var mutator = new Mutator(corpus, seed);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < inputs || clock.Elapsed.TotalSeconds < seconds; i++)
        {
            await RunOneAsync(target, run, mutator.Next());
            tried++;
        }

        var report = $"fuzz {target}: {tried} inputs ({corpus.Count} corpus, seed {seed}) in {clock.Elapsed.TotalSeconds:0.0} s";
        if (Environment.GetEnvironmentVariable("KILN_FUZZ_REPORT") is { Length: > 0 } reportFile)
        {
            await File.AppendAllTextAsync(reportFile, report + "\n");
        }
    }

    [Fact]
    public void Committed_corpus_holds_every_generated_seed()
    {
        // KILN_FUZZ_WRITE_CORPUS=1 writes the seeds that are missing (after a codec change).
        var write = Environment.GetEnvironmentVariable("KILN_FUZZ_WRITE_CORPUS") == "1";
        var missing = new List<string>();
        foreach (var target in FuzzTargets.All.Keys)
        {
            foreach (var seed in FuzzCorpus.Seeds(target))
            {
                var path = Path.Combine(FuzzCorpus.Directory(target), FuzzCorpus.FileName(seed));
                if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(seed))
                {
                    continue;
                }

                if (write)
                {
                    Directory.CreateDirectory(FuzzCorpus.Directory(target));
                    File.WriteAllBytes(path, seed);
                }
                else
                {
                    missing.Add(path);
                }
            }
        }

        Assert.True(missing.Count == 0, $"seeds missing from the committed corpus (run with KILN_FUZZ_WRITE_CORPUS=1): {string.Join(", ", missing)}");
    }

    private static async Task RunOneAsync(string target, Func<byte[], Task> run, byte[] input)
    {
        var task = Task.Run(() => run(input));
        var finished = await Task.WhenAny(task, Task.Delay(s_inputDeadline));
        Assert.True(finished == task, $"{target} hung for {s_inputDeadline.TotalSeconds:0} s on input {Convert.ToHexString(input)}");
        try
        {
            await task;
        }
        catch (Exception e)
        {
            Assert.Fail($"{target} threw {e.GetType().Name} on input {Convert.ToHexString(input)}: {e}");
        }
    }

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : fallback;
}
