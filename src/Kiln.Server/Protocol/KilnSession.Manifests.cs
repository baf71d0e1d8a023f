using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Security;
using Kiln.Server.Security;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Protocol;

/// <summary>
/// Remote direct mode (docs/protocol.md): LOOKUP answers MANIFEST with the entries this client's
/// identity recorded, FETCH answers a stored result by the node's key, RECORD adds an entry for the
/// job this connection just answered. A manifest is never checked by the node (it has no headers to
/// check it with), so it is read back only by the identity that wrote it.
/// </summary>
public sealed partial class KilnSession
{
    private Step HandleManifestFrame(KilnFrameType type, KilnFrameFlags flags, ReadOnlyMemory<byte> payload)
    {
        if (type == KilnFrameType.Record)
        {
            return KilnManifest.TryParseRecord(payload, out var manifestKey, out var entry, out var invalid)
                ? new Step(StepKind.Record, Key: manifestKey, Entry: entry)
                : new Step(StepKind.Fail, invalid);
        }

        var name = KilnFrameHeader.Name(type);
        if (!KilnManifest.TryParseKey(payload, name, out var key, out var error))
        {
            return new Step(StepKind.Fail, error);
        }

        if (_cache is null)
        {
            return new Step(StepKind.Refuse, new KilnError(KilnErrorCode.NotCached, "this node runs without a result cache (--result-cache off)"));
        }

        if (_identity is { } identity && !identity.Has(Role.Read))
        {
            return new Step(StepKind.Refuse, new KilnError(KilnErrorCode.Forbidden,
                $"'{identity.Name}' ({identity.Id}) has role {NodeAuthenticator.RoleName(identity.Role)}; reading the cache needs read"));
        }

        return new Step(type == KilnFrameType.Lookup ? StepKind.LookUpManifest : StepKind.Fetch, Key: key,
            WithResult: (flags & KilnFrameFlags.WithResult) != 0);
    }

    /// <summary>
    /// Whose manifests these are: an authenticated identity (token or certificate), else on a node
    /// without tokens the loopback user HELLO names (KILN_USER), which is a convenience and no
    /// boundary: such a node trusts every local user with everything already.
    /// </summary>
    private string ManifestScope() =>
        _identity is { } id && id != NodeAuthenticator.LocalUser ? "id:" + id.Id : "user:" + _user;

    /// <summary>Remembers a success this connection answered, so a RECORD right after it can name it.</summary>
    private void Answered(KilnJob job, ActionKey nodeKey, CompileOutcome outcome) =>
        _lastAnswered = outcome.ExitCode == 0 && (!job.ActionKey.IsNone || job.Ahead) && !nodeKey.IsNone ? (job.ActionKey, nodeKey) : null;

    /// <summary>
    /// MANIFEST for <paramref name="manifestKey"/>; asked <paramref name="withResult"/>, the newest
    /// entry's result goes right behind it when the node has it, may serve it and it is small
    /// (<see cref="KilnProtocol.EagerResultLimit"/>): the client whose headers match that entry, the
    /// usual case of a hit, then needs no FETCH.
    /// </summary>
    private async Task LookUpManifestAsync(ActionKey manifestKey, bool withResult, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        _lastAnswered = null;
        var stored = await _cache!.FindManifestAsync(manifestKey, ManifestScope(), cancellationToken).ConfigureAwait(false);
        var payload = stored ?? KilnManifest.Encode([]);
        LogManifestLookup(_logger, _client, manifestKey.Hex, stored is null ? "no manifest" : "a manifest");
        CompileOutcome? eager = null;
        if (withResult && stored is not null && KilnManifest.TryParse(stored, out var entries, out _) && entries.Count > 0)
        {
            eager = await _cache.LookupEagerAsync(entries[0].NodeKey, Consumer(), cancellationToken).ConfigureAwait(false);
        }

        if (eager is null)
        {
            await SendAsync(w => KilnManifest.WriteManifestFrame(w, payload), deadline, cancellationToken).ConfigureAwait(false);
            return;
        }

        await SendAsync(w => KilnManifest.WriteManifestFrame(w, payload, KilnFrameFlags.WithResult), deadline, cancellationToken).ConfigureAwait(false);
        await SendOutcomeAsync("(direct mode, with the manifest)", "", eager, 0, fromCache: true, deadline, cancellationToken).ConfigureAwait(false);
    }

    private async Task FetchAsync(ActionKey nodeKey, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        _lastAnswered = null;
        var hit = await _cache!.LookupAsync(nodeKey, Consumer(), cancellationToken).ConfigureAwait(false);
        if (hit is null)
        {
            var miss = new KilnError(KilnErrorCode.NotCached, $"no result under {nodeKey.Hex} (evicted, or not one this node may serve you)");
            await SendAsync(miss.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
            return;
        }

        await SendOutcomeAsync("(direct mode)", "", hit, 0, fromCache: true, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores the entry when it names the job this connection just answered (its client key, when the JOB named one); any other
    /// RECORD is dropped without a word, as the client does not wait for an answer.
    /// </summary>
    private async Task RecordAsync(ActionKey manifestKey, KilnManifestEntry entry)
    {
        var last = _lastAnswered;
        _lastAnswered = null;
        // A job sent ahead of its input named no key (the client had none yet): the RECORD that follows
        // its answer names the client's, and stands for that job.
        if (_cache is null || last is not { } answered || (!answered.Client.IsNone && answered.Client != entry.ClientKey))
        {
            LogManifestDropped(_logger, _client, manifestKey.Hex);
            return;
        }

        // Not the connection's token: the client closes right after RECORD (it waits for no answer),
        // and that close must not cancel the store. The store is bounded by the read timeout instead.
        using var bounded = new CancellationTokenSource(_options.ReadTimeout);
        var stored = await _cache.RecordManifestAsync(manifestKey, ManifestScope(), entry with { NodeKey = answered.Node }, _client, bounded.Token)
            .ConfigureAwait(false);
        if (!stored)
        {
            LogManifestDropped(_logger, _client, manifestKey.Hex);
        }
    }

    /// <summary>
    /// A LOOKUP or FETCH this node will not answer: no job is behind it, so it is audited as a cache
    /// read (not a refused job, and not in the job ledger) and answered with the error; the connection
    /// stays usable.
    /// </summary>
    private async Task RefuseReadAsync(KilnError error, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        LogReadRefused(_logger, _client, error.Code, error.Message);
        _access?.Record("cache", Security.AuditEvent.Refused, _identity, $"{error.Code}: {error.Message}");
        await SendAsync(error.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Kiln cache read from {Client} refused: {Code}: {Reason}")]
    private static partial void LogReadRefused(ILogger logger, string client, KilnErrorCode code, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Kiln LOOKUP from {Client}: {Key}: {Found}")]
    private static partial void LogManifestLookup(ILogger logger, string client, string key, string found);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Kiln RECORD from {Client} for {Key} not stored (it names no job this connection answered, or the store refused it)")]
    private static partial void LogManifestDropped(ILogger logger, string client, string key);
}
