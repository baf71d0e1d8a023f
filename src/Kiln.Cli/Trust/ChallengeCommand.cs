using System.Diagnostics;
using System.Text.Json;
using Kiln.Core.Actions;
using Kiln.Core.Elf;
using Kiln.Core.Hashing;
using Kiln.Server.Trust;

namespace Kiln.Cli.Trust;

/// <summary>
/// <c>kiln challenge</c>: the actions builders disagree on, as a node knows them. For each: the
/// signers on each side, and what differs between the results (exit status, stdout, stderr, each
/// output's size and, for ELF objects, the sections that differ; diffoscope's report where it is
/// installed). Exit status 1 when any action is contested, 0 when none is, 2 when the node cannot be asked.
/// </summary>
internal static class ChallengeCommand
{
    private const string Help = """
        kiln challenge [--node URL]... [--no-diffoscope]
            the actions whose builders disagree (two ResultDigests for one ActionKey), the signers
            on each side and what differs; exit status 1 when any is contested

        --node URL        a node to ask (repeatable: contested actions are merged, and each result's
                          contents are fetched from whichever node has them; default $KILN_NODE,
                          else http://127.0.0.1:3633)
        --no-diffoscope   do not run diffoscope even where it is installed

        """;

    /// <summary>The largest output fetched to compare (objects are far smaller).</summary>
    private const long MaxCompareBytes = 256L << 20;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var nodes = new List<string>();
        var diffoscope = true;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.Write(Help);
                    return 0;
                case "--node" when i + 1 < args.Length:
                    nodes.Add(args[++i]);
                    break;
                case "--no-diffoscope":
                    diffoscope = false;
                    break;
                default:
                    stderr.WriteLine($"kiln challenge: unknown option '{args[i]}'. Run 'kiln challenge --help'.");
                    return 2;
            }
        }

        if (nodes.Count == 0)
        {
            nodes.Add(Environment.GetEnvironmentVariable("KILN_NODE") is { Length: > 0 } env ? env : "http://127.0.0.1:3633");
        }

        var bases = new List<Uri>();
        foreach (var node in nodes)
        {
            if (!Uri.TryCreate(node.Contains("://", StringComparison.Ordinal) ? node : "http://" + node, UriKind.Absolute, out var baseUri))
            {
                stderr.WriteLine($"kiln challenge: '{node}' is not a node address (e.g. http://127.0.0.1:3633)");
                return 2;
            }

            bases.Add(baseUri);
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var report = await MergedReportAsync(http, bases, stderr).ConfigureAwait(false);
        if (report is null)
        {
            return 2;
        }

        var where = string.Join(", ", bases);
        if (report.Count == 0)
        {
            stdout.WriteLine($"no contested actions at {where}");
            return 0;
        }

        stdout.WriteLine($"{report.Count} contested action(s) at {where}");
        var source = new BlobSource(http, bases);
        foreach (var action in report)
        {
            stdout.WriteLine();
            stdout.WriteLine($"action {action.Action}");
            var results = new List<ActionResult?>();
            foreach (var side in action.Sides)
            {
                stdout.WriteLine($"  result {side.Result}");
                foreach (var s in side.Signers)
                {
                    stdout.WriteLine($"    signed by {s.KeyId} ({s.Owner ?? "unknown owner"}), {s.How} at {s.Time:yyyy-MM-dd HH:mm:ss.fff}Z");
                }

                var encoding = await FetchAsync(source, side.Result, side.ResultSize).ConfigureAwait(false);
                results.Add(encoding is null ? null : ActionResult.Decode(encoding));
            }

            await DescribeDifferencesAsync(source, results, diffoscope, stdout).ConfigureAwait(false);
        }

        return 1;
    }

    /// <summary>The contested actions of every node, merged by action (each side's signers united); null when a node cannot be asked.</summary>
    private static async Task<List<ContestedAction>?> MergedReportAsync(HttpClient http, List<Uri> bases, TextWriter stderr)
    {
        var merged = new Dictionary<string, Dictionary<string, ContestedSide>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var baseUri in bases)
        {
            ContestedReport? report;
            try
            {
                var bytes = await http.GetByteArrayAsync(new Uri(baseUri, AttestationEndpoints.Prefix + "/contested")).ConfigureAwait(false);
                report = JsonSerializer.Deserialize(bytes, TrustJsonContext.Default.ContestedReport);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                stderr.WriteLine($"kiln challenge: could not ask {baseUri} for contested actions: {e.Message}");
                return null;
            }

            foreach (var action in report?.Contested ?? [])
            {
                if (!merged.TryGetValue(action.Action, out var sides))
                {
                    merged[action.Action] = sides = new Dictionary<string, ContestedSide>(StringComparer.Ordinal);
                    order.Add(action.Action);
                }

                foreach (var side in action.Sides)
                {
                    if (!sides.TryGetValue(side.Result, out var known))
                    {
                        sides[side.Result] = known = side with { Signers = [] };
                    }

                    foreach (var signer in side.Signers)
                    {
                        if (!known.Signers.Exists(s => s.Encoded == signer.Encoded))
                        {
                            known.Signers.Add(signer);
                        }
                    }
                }
            }
        }

        return order.ConvertAll(a => new ContestedAction(a, [.. merged[a].Values]));
    }

    private static async Task DescribeDifferencesAsync(BlobSource source, List<ActionResult?> results, bool diffoscope, TextWriter stdout)
    {
        if (results.Count < 2 || results[0] is not { } first)
        {
            stdout.WriteLine("  differences: the results' contents are not on the node (only their digests are known)");
            return;
        }

        for (var i = 1; i < results.Count; i++)
        {
            if (results[i] is not { } other)
            {
                stdout.WriteLine($"  differences: result {i + 1}'s contents are not on the node");
                continue;
            }

            if (first.ExitCode != other.ExitCode)
            {
                stdout.WriteLine($"  exit status: {first.ExitCode} vs {other.ExitCode}");
            }

            if (first.Stdout != other.Stdout)
            {
                stdout.WriteLine($"  stdout: {first.Stdout.Size} vs {other.Stdout.Size} bytes, contents differ");
            }

            if (first.Stderr != other.Stderr)
            {
                stdout.WriteLine($"  stderr: {first.Stderr.Size} vs {other.Stderr.Size} bytes, contents differ");
            }

            foreach (var output in first.Outputs)
            {
                var match = other.Outputs.FirstOrDefault(o => o.Name == output.Name);
                if (match is null)
                {
                    stdout.WriteLine($"  {output.Name}: only in the first result");
                    continue;
                }

                if (match.Digest == output.Digest)
                {
                    continue;
                }

                stdout.WriteLine($"  {output.Name}: {output.Digest.Size} vs {match.Digest.Size} bytes");
                var left = await FetchAsync(source, output.Digest.Hex, output.Digest.Size).ConfigureAwait(false);
                var right = await FetchAsync(source, match.Digest.Hex, match.Digest.Size).ConfigureAwait(false);
                if (left is null || right is null)
                {
                    stdout.WriteLine("    (contents not on the node)");
                    continue;
                }

                var leftSections = ElfReader.ReadSections(left);
                var rightSections = ElfReader.ReadSections(right);
                if (leftSections is not null && rightSections is not null)
                {
                    foreach (var section in ElfReader.DifferingSections(leftSections, rightSections))
                    {
                        stdout.WriteLine($"    ELF section {section}");
                    }
                }

                if (diffoscope)
                {
                    await DiffoscopeAsync(output.Name, left, right, stdout).ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task<byte[]?> FetchAsync(BlobSource source, string hex, long size)
    {
        if (size > MaxCompareBytes)
        {
            return null;
        }

        if (size == 0)
        {
            return [];
        }

        foreach (var baseUri in source.Nodes)
        {
            try
            {
                // Blobs are content-addressed: any node's copy is checked against the digest.
                using var response = await source.Http.GetAsync(new Uri(baseUri, "/bazel/cas/" + hex)).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    continue;
                }

                var bytes = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                if (Digest.FromBytes(bytes).Hex == hex)
                {
                    return bytes;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // Another node may have it.
            }
        }

        return null;
    }

    /// <summary>Runs diffoscope on the two files when it is on PATH, and prints the head of its report.</summary>
    private static async Task DiffoscopeAsync(string name, byte[] left, byte[] right, TextWriter stdout)
    {
        var tool = FindOnPath("diffoscope");
        if (tool is null)
        {
            return;
        }

        var dir = Directory.CreateTempSubdirectory("kiln-challenge-");
        try
        {
            var leftPath = Path.Combine(dir.FullName, "a-" + Path.GetFileName(name));
            var rightPath = Path.Combine(dir.FullName, "b-" + Path.GetFileName(name));
            await File.WriteAllBytesAsync(leftPath, left).ConfigureAwait(false);
            await File.WriteAllBytesAsync(rightPath, right).ConfigureAwait(false);
            var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("--text");
            info.ArgumentList.Add("-");
            info.ArgumentList.Add(leftPath);
            info.ArgumentList.Add(rightPath);
            using var process = Process.Start(info)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var report = process.StandardOutput.ReadToEndAsync(timeout.Token);
            _ = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                stdout.WriteLine("    diffoscope: gave up after 120 s");
                return;
            }

            var lines = (await report.ConfigureAwait(false)).Split('\n');
            stdout.WriteLine("    diffoscope:");
            foreach (var line in lines.Take(60))
            {
                stdout.WriteLine("      " + line);
            }

            if (lines.Length > 60)
            {
                stdout.WriteLine($"      ... ({lines.Length - 60} more lines)");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
