using System.Net.Http.Json;
using System.Text.Json;
using Kiln.Server.Discovery;

namespace Kiln.Cli.Hosts;

/// <summary>Asks a seed node over HTTP for the nodes it knows (<c>GET /api/nodes</c>).</summary>
internal static class SeedClient
{
    /// <summary>The nodes a seed knows, or the reason it could not be asked.</summary>
    public sealed record Answer(IReadOnlyList<KnownNode> Nodes, string? Error);

    public static async Task<Answer> AskAsync(string seed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate("http://" + seed + "/api/nodes", UriKind.Absolute, out var uri) || uri.PathAndQuery != "/api/nodes")
        {
            return new Answer([], "expected HOST:PORT of a node's HTTP listener");
        }

        using var http = new HttpClient { Timeout = timeout };
        try
        {
            var nodes = await http.GetFromJsonAsync(uri, DiscoveryJsonContext.Default.ListKnownNode, cancellationToken).ConfigureAwait(false);
            return new Answer(nodes ?? [], null);
        }
        catch (HttpRequestException e)
        {
            return new Answer([], e.Message);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Answer([], $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (JsonException e)
        {
            return new Answer([], "not a node list: " + e.Message);
        }
    }
}
