using System.Net.Http.Json;
using Kiln.Server.Accounting;

namespace Kiln.Cli.Observe;

/// <summary>Reads a node's dashboard snapshot over HTTP, for <c>kiln status</c> and <c>kiln monitor</c>.</summary>
internal static class NodeApi
{
    /// <summary>The node asked when none is given: the local node's HTTP listener.</summary>
    public const string DefaultNode = "127.0.0.1:3633";

    /// <summary>The base address of <paramref name="node"/> (HOST:PORT or an http:// URL).</summary>
    public static Uri BaseAddress(string node) =>
        new(node.StartsWith("http://", StringComparison.Ordinal) || node.StartsWith("https://", StringComparison.Ordinal) ? node : "http://" + node);

    /// <summary>One snapshot, or null with a problem saying why not.</summary>
    public static async Task<(DashboardSnapshot? Snapshot, string? Problem)> SnapshotAsync(HttpClient http, Uri node, CancellationToken cancellationToken)
    {
        try
        {
            var snapshot = await http.GetFromJsonAsync(new Uri(node, "/api/dashboard"), AccountingJsonContext.Default.DashboardSnapshot, cancellationToken)
                .ConfigureAwait(false);
            return snapshot is null ? (null, "the node sent an empty answer") : (snapshot, null);
        }
        catch (HttpRequestException e)
        {
            return (null, e.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "no answer within the timeout");
        }
        catch (System.Text.Json.JsonException e)
        {
            return (null, "not a Kiln node's answer: " + e.Message);
        }
    }
}
