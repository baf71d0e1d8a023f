using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Security;
using Kiln.Server.Security;

namespace Kiln.Server.Protocol;

/// <summary>
/// Remote preprocessing (docs/protocol.md, PREPROCESS): the node runs the client's unpreprocessed
/// compile over the files it names. Its result is stored under a key the node computes from the
/// compiler, the command line, the working directory, the locale and every file's digest, and on
/// success the node records the manifest entry for the asking identity itself, so the same compile
/// next time is a remote direct-mode hit.
/// </summary>
public sealed partial class KilnSession
{
    private Step HandlePreprocess(ReadOnlyMemory<byte> payload)
    {
        if (!KilnPreprocessJob.TryParse(payload, out var job, out var error))
        {
            return new Step(StepKind.Fail, error);
        }

        if (_identity is { } identity && !identity.Has(Role.Execute))
        {
            _executor.Counters.CountRefused();
            return new Step(StepKind.Refuse, new KilnError(KilnErrorCode.Forbidden,
                $"'{identity.Name}' ({identity.Id}) has role {NodeAuthenticator.RoleName(identity.Role)}; compiling on this node needs execute"));
        }

        return new Step(StepKind.Preprocess, Preprocess: job);
    }

    /// <summary>
    /// The key a PREPROCESS result is stored under: the node's own identity of the compiler, the
    /// arguments behind a tag and the working directory, the source language, the locale, and the
    /// digest of the file list (each name with its digest, in the order sent). Null when the compiler
    /// is not allowed or cannot be probed.
    /// </summary>
    private ActionKey? InPlaceKey(KilnPreprocessJob job, CompileCommand command)
    {
        var list = new CanonicalWriter("kiln-preprocess-files-v1").Int(job.Files.Count);
        foreach (var file in job.Files)
        {
            list.String(file.Name).Digest(file.Digest);
        }

        var arguments = new List<string>(job.Arguments.Count + 2) { "kiln-preprocess-v1", job.WorkingDirectory };
        arguments.AddRange(job.Arguments);
        return _cache?.KeyOf(job.Compiler, arguments, command.Language, Digest.FromBytes(list.ToArray()), job.Locale);
    }

    private async Task PreprocessAsync(KilnPreprocessJob job, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        _lastAnswered = null;
        _executor.Counters.CountJob("kiln");
        _executor.Counters.CountPreprocessedHere();
        _jobStarted = PhaseTrace.Now();
        PhaseTrace.Mark("node", ++_jobCount, "preprocess-frame (since accept)", _accepted);
        var command = CompileCommand.Parse(job.Compiler, job.Arguments);
        var source = command.IsDistributable ? command.Source : "";
        var key = command.IsDistributable ? InPlaceKey(job, command) : null;
        if (key is { } known && await _cache!.LookupAsync(known, Consumer(), cancellationToken).ConfigureAwait(false) is { } cached)
        {
            await SendOutcomeAsync(source, job.Compiler, cached, 0, fromCache: true, deadline, cancellationToken).ConfigureAwait(false);
            return;
        }

        var result = await _executor.ExecuteInPlaceAsync(job, command, _client, _user, cancellationToken).ConfigureAwait(false);
        if (result.Outcome is { } outcome)
        {
            Task<bool>? storing = null;
            if (outcome.ExitCode == 0 && key is { } fresh)
            {
                storing = _cache!.BeginStore(fresh, outcome, "kiln", _client);
            }

            try
            {
                AuditJob(null, AuditEvent.Done, $"{job.Compiler} {source} (preprocessed here, {job.Files.Count} files) from client '{_client}': exit {outcome.ExitCode}");
                await SendOutcomeAsync(source, job.Compiler, outcome, 0, fromCache: false, deadline, cancellationToken).ConfigureAwait(false);
                PhaseTrace.Mark("node", _jobCount, "replied", _jobStarted);
            }
            finally
            {
                if (storing is not null && await storing.ConfigureAwait(false) && key is { } stored)
                {
                    await RecordInPlaceAsync(job, stored, command.WritesDependencyFile ? outcome.DependencyFile : null).ConfigureAwait(false);
                }
            }

            return;
        }

        if (result.Refusal == RefusalKind.Busy)
        {
            AuditJob(null, AuditEvent.Refused, "busy: " + (result.Message ?? "node busy"));
            await SendAsync(new KilnBusy(result.Message ?? "node busy").WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
            return;
        }

        var error = ToError(result);
        LogJobRefused(_logger, _client, source, error.Code, error.Message);
        AuditJob(null, AuditEvent.Refused, $"{job.Compiler} {source} (to preprocess here) from client '{_client}': {error.Code}: {error.Message}");
        await SendAsync(error.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records the entry a successful PREPROCESS proved, for the identity that asked (see <see cref="ManifestScope"/>).</summary>
    private async Task RecordInPlaceAsync(KilnPreprocessJob job, ActionKey key, ReadOnlyMemory<byte>? dependencyFile)
    {
        var files = new List<IncludedFile>(job.Files.Count);
        foreach (var file in job.Files)
        {
            files.Add(new IncludedFile(file.Name, file.Digest));
        }

        // Bounded on its own: the client may close as soon as it has the RESULT.
        using var bounded = new CancellationTokenSource(_options.ReadTimeout);
        if (!await _cache!.RecordManifestAsync(job.ManifestKey, ManifestScope(), new KilnManifestEntry(key, key, files, dependencyFile), _client, bounded.Token)
            .ConfigureAwait(false))
        {
            LogManifestDropped(_logger, _client, job.ManifestKey.Hex);
        }
    }
}
