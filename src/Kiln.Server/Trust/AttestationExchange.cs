using System.Net.Http.Headers;
using System.Text.Json;
using Kiln.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Trust;

/// <summary>
/// Exchanges attestations with the node's peers: each round pulls every peer's feed from where the
/// last round stopped and pushes this node's new attestations to it. Each attestation pulled goes
/// through the same <see cref="AttestationIntake"/> as any other, so a peer cannot slip in what the
/// API would refuse. Bounded: at most <see cref="PagesPerRound"/> pages per peer per round, each
/// request with a timeout; an unreachable peer is counted and tried again next round.
/// </summary>
internal sealed partial class AttestationExchange(
    KilnNodeOptions options, AttestationStore store, AttestationIntake intake, TrustCounters counters, ILogger<AttestationExchange> logger)
    : BackgroundService
{
    /// <summary>Pages of <see cref="PageSize"/> pulled or pushed per peer per round.</summary>
    public const int PagesPerRound = 10;

    /// <summary>Attestations per page.</summary>
    public const int PageSize = 500;

    private readonly Dictionary<Uri, (long Pulled, long Pushed)> _cursors = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var peers = options.Trust.Peers;
        if (peers.Count == 0)
        {
            return;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var timer = new PeriodicTimer(options.Trust.ExchangeInterval);
        do
        {
            foreach (var peer in peers)
            {
                try
                {
                    await ExchangeAsync(http, peer, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !stoppingToken.IsCancellationRequested)
                {
                    counters.ExchangeFailed();
                    ExchangeFailed(logger, peer, e.Message);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One round with one peer: pull its new attestations, push ours.</summary>
    public async Task ExchangeAsync(HttpClient http, Uri peer, CancellationToken cancellationToken)
    {
        var (pulledCursor, pushedCursor) = _cursors.GetValueOrDefault(peer);
        long pulled = 0, pushed = 0;
        var source = "peer:" + peer.Authority;
        for (var page = 0; page < PagesPerRound; page++)
        {
            var url = new Uri(peer, $"{AttestationEndpoints.Prefix}/feed?after={pulledCursor}&limit={PageSize}");
            using var response = await http.GetAsync(url, cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            var feed = JsonSerializer.Deserialize(bytes, TrustJsonContext.Default.AttestationFeed)
                ?? throw new JsonException("empty feed");
            foreach (var text in feed.Attestations)
            {
                pulled++;
                var raw = new byte[text.Length];
                if (Convert.TryFromBase64String(text, raw, out var written))
                {
                    _ = intake.Offer(raw.AsSpan(0, written), source, out _);
                }
                else
                {
                    counters.Count(IntakeOutcome.Malformed);
                }
            }

            if (feed.Last <= pulledCursor || feed.Attestations.Count < PageSize)
            {
                pulledCursor = Math.Max(pulledCursor, feed.Last);
                break;
            }

            pulledCursor = feed.Last;
        }

        for (var page = 0; page < PagesPerRound; page++)
        {
            var (list, last) = store.Since(pushedCursor, PageSize);
            if (list.Count == 0)
            {
                pushedCursor = last;
                break;
            }

            var submission = new AttestationSubmission(list.ConvertAll(a => Convert.ToBase64String(a.Encode())));
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(submission, TrustJsonContext.Default.AttestationSubmission));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(new Uri(peer, AttestationEndpoints.Prefix), content, cancellationToken).ConfigureAwait(false);

            // 422 names attestations the peer refuses (keys it does not trust): an answer, not a failure.
            if (!response.IsSuccessStatusCode && (int)response.StatusCode != 422)
            {
                response.EnsureSuccessStatusCode();
            }

            pushed += list.Count;
            pushedCursor = last;
        }

        _cursors[peer] = (pulledCursor, pushedCursor);
        counters.Exchanged(pulled, pushed);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "attestation exchange with {Peer} failed: {Reason}")]
    private static partial void ExchangeFailed(ILogger logger, Uri peer, string reason);
}
