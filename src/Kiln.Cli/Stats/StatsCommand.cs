using System.Globalization;
using System.Text;
using System.Text.Json;
using Kiln.Cli.Cc;
using Kiln.Cli.LocalCache;

namespace Kiln.Cli.Stats;

/// <summary>
/// <c>kiln stats</c>: hits, misses and size by cache front end: a node's (<c>/api/cache</c> and
/// <c>/api/stats</c>) and this machine's local cache. <c>--json</c> prints one JSON object.
/// </summary>
internal static class StatsCommand
{
    private const string Help = """
        kiln stats [--node HOST:PORT] [--json]

        Shows the cache counters of a node (its HTTP listener, default 127.0.0.1:3633: hits, misses,
        writes and refusals for each front end: kiln, distcc, ccache, bazel; its store's size and
        per-namespace counters) and of the local cache under KILN_DIR (direct-mode and preprocessed
        hits, misses, size against KILN_CACHE_SIZE).

          --node HOST:PORT    the node's HTTP address (repeatable; none = 127.0.0.1:3633)
          --local-only        do not ask a node
          --json              one JSON object: {"nodes":[{"address","frontEnds","status"|"error"}],"local":{…}}

        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var nodes = new List<string>();
        var json = false;
        var localOnly = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    Console.Out.Write(Help);
                    return 0;
                case "--json":
                    json = true;
                    break;
                case "--local-only":
                    localOnly = true;
                    break;
                case "--node" when i + 1 < args.Length:
                    nodes.Add(args[++i]);
                    break;
                default:
                    Console.Error.WriteLine($"kiln stats: unknown option '{args[i]}'. Run 'kiln stats --help'.");
                    return 2;
            }
        }

        if (nodes.Count == 0 && !localOnly)
        {
            nodes.Add("127.0.0.1:3633");
        }

        var answers = new List<NodeAnswer>();
        foreach (var node in localOnly ? [] : nodes)
        {
            answers.Add(await AskAsync(node, CancellationToken.None).ConfigureAwait(false));
        }

        var settings = CcSettings.FromEnvironment(Environment.GetEnvironmentVariable, Environment.CurrentDirectory);
        var local = new LocalCompileCache(Path.Combine(settings.StateDirectory, "cache"), settings.LocalCacheBytes, 0).Statistics();
        Console.Out.Write(json ? Json(answers, local) : Text(answers, local));
        return answers.Exists(a => a.Error is not null) ? 1 : 0;
    }

    private sealed record NodeAnswer(string Address, JsonElement? Cache, JsonElement? Status, string? Error);

    private static async Task<NodeAnswer> AskAsync(string node, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var cache = await GetAsync(http, $"http://{node}/api/cache", cancellationToken).ConfigureAwait(false);
            var status = await GetAsync(http, $"http://{node}/api/stats", cancellationToken).ConfigureAwait(false);
            return new NodeAnswer(node, cache, status, null);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or UriFormatException
            || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new NodeAnswer(node, null, null, e.Message);
        }
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string uri, CancellationToken cancellationToken)
    {
        var bytes = await http.GetByteArrayAsync(new Uri(uri), cancellationToken).ConfigureAwait(false);
        using var document = JsonDocument.Parse(bytes);
        return document.RootElement.Clone();
    }

    private static string Text(List<NodeAnswer> answers, LocalCacheStatistics local)
    {
        var text = new StringBuilder();
        foreach (var answer in answers)
        {
            if (answer.Error is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"node {answer.Address}: not reachable: {answer.Error}\n");
                continue;
            }

            var status = answer.Status!.Value;
            text.Append(CultureInfo.InvariantCulture, $"node {answer.Address} ({Str(status, "node")}): {Long(status, "compilesOk")} compiles, {Long(status, "kilnJobs")} Kiln jobs, {Long(status, "distccJobs")} distcc jobs\n");
            if (status.TryGetProperty("cache", out var store) && store.ValueKind == JsonValueKind.Object)
            {
                text.Append(CultureInfo.InvariantCulture, $"  store: {Size(Long(store, "sizeBytes"))} of {Size(Long(store, "capacityBytes"))}, {Long(store, "blobCount")} blobs, {Long(store, "evictions")} evictions\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"  {"front end",-20} {"hits",10} {"misses",10} {"writes",10} {"refused",10} {"bytes out",12} {"bytes in",12}\n");
            foreach (var frontEnd in answer.Cache!.Value.EnumerateObject())
            {
                var c = frontEnd.Value;
                text.Append(CultureInfo.InvariantCulture,
                    $"  {frontEnd.Name,-20} {Long(c, "hits"),10} {Long(c, "misses"),10} {Long(c, "writes"),10} {Long(c, "refused"),10} {Size(Long(c, "bytesOut")),12} {Size(Long(c, "bytesIn")),12}\n");
            }
        }

        text.Append(CultureInfo.InvariantCulture, $"local cache {local.Directory}: {Size(local.SizeBytes)} of {Size(local.CapacityBytes)}, {local.Results} results, {local.Manifests} manifests\n");
        text.Append(CultureInfo.InvariantCulture, $"  direct hits {local.DirectHits}, preprocessed hits {local.PreprocessedHits}, misses {local.Misses}, stored {local.Stored}\n");
        return text.ToString();
    }

    private static string Json(List<NodeAnswer> answers, LocalCacheStatistics local)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("nodes");
            foreach (var answer in answers)
            {
                w.WriteStartObject();
                w.WriteString("address", answer.Address);
                if (answer.Error is not null)
                {
                    w.WriteString("error", answer.Error);
                }
                else
                {
                    w.WritePropertyName("frontEnds");
                    answer.Cache!.Value.WriteTo(w);
                    w.WritePropertyName("status");
                    answer.Status!.Value.WriteTo(w);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("local");
            w.WriteString("directory", local.Directory);
            w.WriteNumber("capacityBytes", local.CapacityBytes);
            w.WriteNumber("sizeBytes", local.SizeBytes);
            w.WriteNumber("results", local.Results);
            w.WriteNumber("manifests", local.Manifests);
            w.WriteNumber("directHits", local.DirectHits);
            w.WriteNumber("preprocessedHits", local.PreprocessedHits);
            w.WriteNumber("misses", local.Misses);
            w.WriteNumber("stored", local.Stored);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static long Long(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.TryGetInt64(out var n) ? n : 0;

    private static string Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (bytes / (double)(1L << 10)).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
