using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Trust;

/// <summary>
/// The attestation API under <c>/api/attestations</c>: read what is known about an action, add
/// attestations (a node or a person can donate signatures alone), page through the feed peers pull,
/// the contested actions, and the counters (one per rejection reason).
/// </summary>
public static class AttestationEndpoints
{
    /// <summary>The route prefix.</summary>
    public const string Prefix = "/api/attestations";

    /// <summary>The largest submission accepted: thousands of attestations, bounded so one request cannot exhaust memory.</summary>
    public const int MaxSubmissionBytes = 4 << 20;

    /// <summary>The most attestations one feed page or submission holds.</summary>
    public const int MaxPage = 1000;

    /// <summary>Maps the routes.</summary>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Prefix + "/stats", StatsAsync);
        endpoints.MapGet(Prefix + "/contested", ContestedAsync);
        endpoints.MapGet(Prefix + "/feed", FeedAsync);
        endpoints.MapGet(Prefix + "/{action}", GetAsync);
        endpoints.MapPost(Prefix, PostAsync);
    }

    private static Task StatsAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var trust = services.GetRequiredService<NodeTrust>();
        var c = services.GetRequiredService<TrustCounters>();
        var rejected = new Dictionary<string, long>(StringComparer.Ordinal)
        {
            ["malformed"] = c.Malformed,
            ["badSignature"] = c.BadSignature,
            ["unknownKey"] = c.UnknownKey,
            ["revokedKey"] = c.RevokedKey,
        };
        var stats = new TrustStats(
            trust.NodeKey.PublicKey.Id, trust.NodeKey.PublicKey.ToString(), services.GetRequiredService<AttestationStore>().Count(),
            c.Added, c.Duplicate, rejected, c.Served, c.Withheld, c.Pulled, c.Pushed, c.ExchangeErrors,
            c.Rebuilt, c.RebuildAgreed, c.RebuildDisagreed, c.RebuildSkipped, [.. trust.PolicyNames.Order(StringComparer.Ordinal)]);
        return WriteJsonAsync(context, StatusCodes.Status200OK, stats, TrustJsonContext.Default.TrustStats);
    }

    private static Task ContestedAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var trust = services.GetRequiredService<NodeTrust>();
        var store = services.GetRequiredService<AttestationStore>();
        var report = new ContestedReport([]);
        foreach (var action in store.Contested(MaxPage))
        {
            var sides = new Dictionary<Digest, ContestedSide>();
            foreach (var a in store.ForAction(action))
            {
                if (!sides.TryGetValue(a.Result, out var side))
                {
                    sides[a.Result] = side = new ContestedSide(a.Result.Hex, a.Result.Size, []);
                }

                side.Signers.Add(View(a, trust));
            }

            report.Contested.Add(new ContestedAction(action.Hex, [.. sides.Values]));
        }

        return WriteJsonAsync(context, StatusCodes.Status200OK, report, TrustJsonContext.Default.ContestedReport);
    }

    private static Task FeedAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (!long.TryParse(query["after"].ToString() is { Length: > 0 } a ? a : "0", out var after) || after < 0
            || !int.TryParse(query["limit"].ToString() is { Length: > 0 } l ? l : "500", out var limit) || limit is < 1 or > MaxPage)
        {
            return TextAsync(context, StatusCodes.Status400BadRequest, $"feed takes after=N (a row number, 0 or more) and limit=1..{MaxPage}");
        }

        var (list, last) = context.RequestServices.GetRequiredService<AttestationStore>().Since(after, limit);
        var feed = new AttestationFeed(last, list.ConvertAll(x => Convert.ToBase64String(x.Encode())));
        return WriteJsonAsync(context, StatusCodes.Status200OK, feed, TrustJsonContext.Default.AttestationFeed);
    }

    private static Task GetAsync(HttpContext context)
    {
        var text = context.Request.RouteValues["action"] as string ?? "";
        if (!Digest.TryParse(text, 0, out var parsed))
        {
            return TextAsync(context, StatusCodes.Status400BadRequest, "an action is 64 lowercase hex characters (an ActionKey)");
        }

        Span<byte> raw = stackalloc byte[ActionKey.Length];
        parsed.WriteHash(raw);
        var action = ActionKey.FromBytes(raw);
        var trust = context.RequestServices.GetRequiredService<NodeTrust>();
        var list = context.RequestServices.GetRequiredService<AttestationStore>().ForAction(action);
        var results = new HashSet<Digest>();
        var views = new List<AttestationView>(list.Count);
        foreach (var a in list)
        {
            results.Add(a.Result);
            views.Add(View(a, trust));
        }

        return WriteJsonAsync(context, StatusCodes.Status200OK, new AttestationList(action.Hex, results.Count > 1, views), TrustJsonContext.Default.AttestationList);
    }

    private static async Task PostAsync(HttpContext context)
    {
        var intake = context.RequestServices.GetRequiredService<AttestationIntake>();
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            await TextAsync(context, StatusCodes.Status413PayloadTooLarge, $"a submission has at most {MaxSubmissionBytes} bytes").ConfigureAwait(false);
            return;
        }

        var source = "api:" + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        List<byte[]?> items;
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            AttestationSubmission? submission;
            try
            {
                submission = JsonSerializer.Deserialize(body, TrustJsonContext.Default.AttestationSubmission);
            }
            catch (JsonException e)
            {
                await TextAsync(context, StatusCodes.Status400BadRequest, $"not an attestation submission ({{\"attestations\": [base64, ...]}}): {e.Message}").ConfigureAwait(false);
                return;
            }

            if (submission?.Attestations is not { } list || list.Count > MaxPage)
            {
                await TextAsync(context, StatusCodes.Status400BadRequest, $"a submission holds 'attestations': a list of at most {MaxPage} base64 strings").ConfigureAwait(false);
                return;
            }

            items = list.ConvertAll(DecodeBase64);
        }
        else
        {
            // application/octet-stream: one attestation in wire form.
            items = [body];
        }

        var report = new IntakeReport(0, 0, []);
        var added = 0;
        var duplicate = 0;
        for (var i = 0; i < items.Count; i++)
        {
            Attestation? attestation = null;
            var outcome = items[i] is { } bytes ? intake.Offer(bytes, source, out attestation) : CountMalformed(context);
            switch (outcome)
            {
                case IntakeOutcome.Added:
                    added++;
                    break;
                case IntakeOutcome.Duplicate:
                    duplicate++;
                    break;
                default:
                    report.Rejected.Add(new AttestationRefusal(i, ReasonName(outcome), AttestationIntake.Explain(outcome, attestation)));
                    break;
            }
        }

        report = report with { Added = added, Duplicate = duplicate };
        var status = report.Rejected.Count == 0 ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity;
        await WriteJsonAsync(context, status, report, TrustJsonContext.Default.IntakeReport).ConfigureAwait(false);
    }

    /// <summary>The counter name of a rejection, as <c>/api/attestations/stats</c> lists it.</summary>
    public static string ReasonName(IntakeOutcome outcome) => outcome switch
    {
        IntakeOutcome.Malformed => "malformed",
        IntakeOutcome.BadSignature => "badSignature",
        IntakeOutcome.UnknownKey => "unknownKey",
        IntakeOutcome.RevokedKey => "revokedKey",
        IntakeOutcome.Duplicate => "duplicate",
        _ => "added",
    };

    internal static AttestationView View(Attestation a, NodeTrust trust) =>
        new(a.Action.Hex, a.Result.Hex, a.Result.Size, a.KeyId, trust.Known.Find(a.KeyId)?.Owner,
            a.How.ToString().ToLowerInvariant(), a.Time, Convert.ToBase64String(a.Encode()));

    private static IntakeOutcome CountMalformed(HttpContext context)
    {
        context.RequestServices.GetRequiredService<TrustCounters>().Count(IntakeOutcome.Malformed);
        return IntakeOutcome.Malformed;
    }

    private static byte[]? DecodeBase64(string? text)
    {
        if (text is null || text.Length > MaxSubmissionBytes)
        {
            return null;
        }

        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer.AsSpan(0, written).ToArray() : null;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxSubmissionBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > MaxSubmissionBytes)
                {
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            return [];
        }

        return buffer.ToArray();
    }

    private static Task WriteJsonAsync<T>(HttpContext context, int status, T value, JsonTypeInfo<T> type)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(value, type);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = json.Length;
        return context.Response.Body.WriteAsync(json, context.RequestAborted).AsTask();
    }

    private static Task TextAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message + "\n", context.RequestAborted);
    }
}
