using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Kiln.Core.Compile;
using Kiln.Core.Diagnostics;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Core.Security;
using Kiln.Server.Compile;
using Kiln.Server.CompileCache;
using Kiln.Server.Security;
using Kiln.Server.Trust;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Protocol;

/// <summary>
/// The server side of one Kiln protocol connection over any duplex pipe (a Kestrel connection, or
/// standard input and output for <c>kiln serve --stdio</c>). It answers HELLO with WELCOME, then runs
/// jobs one after another until the peer closes. Expected outcomes (refused, busy, compile errors)
/// are frames; a malformed or stalled peer gets ERROR and a closed connection. It never throws for
/// anything the peer sends.
/// </summary>
public sealed partial class KilnSession
{
    private readonly CompileExecutor _executor;
    private readonly KilnSessionOptions _options;
    private readonly string _nodeName;
    private readonly ILogger _logger;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly string _peer;
    private readonly byte[] _header = new byte[KilnFrameHeader.Size];
    private readonly CompileResultCache? _cache;

    /// <summary>The client's HELLO asked for RESULT's FromCache flag (<see cref="KilnCapabilities.ResultOrigin"/>).</summary>
    private bool _marksCacheHits;

    // The keys already looked up for the current job, so none is asked twice (each ask counts).
    private readonly List<ActionKey> _triedKeys = new(2);
    private readonly KilnSessionAccess? _access;
    private Identity? _identity;

    /// <summary>
    /// The keys of the last job this connection answered with a stored or storable success: the
    /// client's ActionKey and the node's own. A RECORD may name only this job (then it is cleared).
    /// </summary>
    private (ActionKey Client, ActionKey Node)? _lastAnswered;

    private KilnSessionPhase _phase = KilnSessionPhase.AwaitingHello;
    private string _client;
    private string _user = "";
    private KilnJob? _job;

    /// <summary>The current job's compiler, started ahead of its input (JOB flagged AHEAD), or null.</summary>
    private AheadCompile? _ahead;
    private CancellationToken _stopping;
    private byte[]? _input;
    private long _received;
    private readonly long _accepted = PhaseTrace.Now();
    private long _jobStarted;
    private long _jobCount;

    /// <summary>
    /// Creates a session on <paramref name="transport"/>; <paramref name="peer"/> names the other end in
    /// logs. With <paramref name="cache"/>, jobs are looked up by ActionKey as soon as JOB arrives and
    /// successful compiles are stored under the key this node computes. <paramref name="access"/>
    /// authenticates HELLO and audits jobs and refusals; without it the peer is trusted with every role
    /// and nothing is audited (in-process tests of the protocol alone).
    /// </summary>
    public KilnSession(CompileExecutor executor, KilnSessionOptions options, string nodeName, ILogger logger, IDuplexPipe transport, string peer,
        CompileResultCache? cache = null, KilnSessionAccess? access = null)
    {
        _cache = cache;
        _access = access;
        _executor = executor;
        _options = options;
        _nodeName = nodeName;
        _logger = logger;
        _reader = transport.Input;
        _writer = transport.Output;
        _peer = peer;
        _client = peer;
    }

    /// <summary>
    /// Serves the connection until the peer closes it, breaks the protocol, stalls, or <paramref name="cancellationToken"/> fires.
    /// When <paramref name="closeRequested"/> fires (the node is stopping), the session ends at its next idle
    /// moment: at once when it waits between jobs, else after the job in hand is answered.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken, CancellationToken closeRequested = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _stopping = cancellationToken;
        try
        {
            await ServeAsync(deadline, cancellationToken, closeRequested).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The connection closed, the node is stopping, or the peer stopped reading (already counted).
        }
        catch (IOException e)
        {
            // The peer reset the connection; nothing can be sent.
            LogConnectionLost(_logger, _peer, e.Message);
        }
        finally
        {
            // A job whose compiler started ahead of its input, and whose input never ended: stop it.
            _ahead?.Abandon();
            _ahead = null;
            ReturnInput();
        }
    }

    private async Task ServeAsync(CancellationTokenSource deadline, CancellationToken cancellationToken, CancellationToken closeRequested)
    {
        while (true)
        {
            var limit = _phase switch
            {
                KilnSessionPhase.AwaitingHello => _options.HandshakeTimeout,
                KilnSessionPhase.Idle => _options.IdleTimeout,
                _ => _options.ReadTimeout,
            };
            // A connection kept between jobs (the agent's, a build's) would otherwise hold a stopping
            // node for its whole shutdown timeout: between jobs, a stop closes it at once.
            var betweenJobs = _phase is KilnSessionPhase.Idle or KilnSessionPhase.AwaitingHello;
            if (betweenJobs && closeRequested.IsCancellationRequested)
            {
                return;
            }

            KilnFrameRead read;
            if (betweenJobs && closeRequested.CanBeCanceled)
            {
                // Its own deadline, so the stop never cancels the job the frame may start.
                using var idleDeadline = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, closeRequested);
                read = await ReadFrameAsync(idleDeadline, limit, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                read = await ReadFrameAsync(deadline, limit, cancellationToken).ConfigureAwait(false);
            }

            if (betweenJobs && read.Kind == KilnFrameReadKind.Refused && closeRequested.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // Not a stall: the node is stopping. Closed without an error frame, as an idle timeout would be.
                return;
            }

            if (read.Kind == KilnFrameReadKind.EndOfStream)
            {
                if (betweenJobs)
                {
                    return;
                }

                await FailAsync(new KilnError(KilnErrorCode.InputSizeMismatch,
                    $"the connection ended after {_received} of the job's {_job?.InputSize} input bytes, before its LAST INPUT frame")).ConfigureAwait(false);
                return;
            }

            if (read.Kind == KilnFrameReadKind.Refused)
            {
                // An idle reused connection that times out is ordinary housekeeping, not a protocol error.
                var idle = _phase == KilnSessionPhase.Idle && read.Error!.Code == KilnErrorCode.ReadTimeout;
                await FailAsync(read.Error!, countAsProtocolError: !idle).ConfigureAwait(false);
                return;
            }

            // Everything that needs the payload happens before the reader advances past it.
            var step = Handle(read.Header, read.Payload);
            _reader.AdvanceTo(read.End);
            switch (step.Kind)
            {
                case StepKind.Continue:
                    break;
                case StepKind.Fail:
                    await FailAsync(step.Error!).ConfigureAwait(false);
                    return;
                case StepKind.Welcome:
                    await SendAsync(step.Welcome!.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.JobError:
                    LogJobRefused(_logger, _client, _job?.SourceName ?? "", step.Error!.Code, step.Error.Message);
                    _executor.Ledger.Refused(_client, "kiln", _job?.Compiler ?? "", _job?.SourceName ?? "", _job?.InputSize ?? 0, step.Error.Code.ToString());
                    AuditJob(_job, AuditEvent.Refused, $"{step.Error.Code}: {step.Error.Message}");
                    await SendAsync(step.Error.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Refuse:
                    await RefuseReadAsync(step.Error!, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Run:
                    await RunJobAsync(deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Lookup:
                    await LookUpEarlyAsync(deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.LookUpManifest:
                    await LookUpManifestAsync(step.Key, step.WithResult, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Fetch:
                    await FetchAsync(step.Key, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Record:
                    await RecordAsync(step.Key, step.Entry!).ConfigureAwait(false);
                    break;
                case StepKind.Preprocess:
                    await PreprocessAsync(step.Preprocess!, deadline, cancellationToken).ConfigureAwait(false);
                    break;
                case StepKind.Sync:
                    await SendAsync(writer => WriteSync(writer, step.Echo!), deadline, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private enum StepKind
    {
        Continue,
        Fail,
        Welcome,
        JobError,
        Refuse,
        Run,
        Lookup,
        LookUpManifest,
        Fetch,
        Record,
        Preprocess,
        Sync,
    }

    private readonly record struct Step(StepKind Kind, KilnError? Error = null, KilnWelcome? Welcome = null, ActionKey Key = default,
        KilnManifestEntry? Entry = null, KilnPreprocessJob? Preprocess = null, bool WithResult = false, byte[]? Echo = null)
    {
        public static readonly Step Continue = new(StepKind.Continue);
    }

    private Step Handle(KilnFrameHeader header, ReadOnlySequence<byte> payload)
    {
        switch (_phase)
        {
            case KilnSessionPhase.AwaitingHello:
                return header.Type switch
                {
                    KilnFrameType.Hello => HandleHello(Contiguous(payload)),
                    KilnFrameType.Sync => new Step(StepKind.Sync, Echo: payload.ToArray()),
                    _ => Unexpected(header, "HELLO"),
                };

            case KilnSessionPhase.Idle:
                return header.Type switch
                {
                    KilnFrameType.Job => HandleJob(Contiguous(payload), header.Flags),
                    KilnFrameType.Lookup or KilnFrameType.Fetch or KilnFrameType.Record => HandleManifestFrame(header.Type, header.Flags, Contiguous(payload)),
                    KilnFrameType.Preprocess => HandlePreprocess(Contiguous(payload)),
                    // Between jobs a new HELLO starts over: the agent hands a connection it keeps to the
                    // next client of its user, who says HELLO with its own token (docs/protocol.md, "The agent").
                    KilnFrameType.Hello => HandleHello(Contiguous(payload)),
                    KilnFrameType.Sync => new Step(StepKind.Sync, Echo: payload.ToArray()),
                    _ => Unexpected(header, "JOB, LOOKUP, FETCH, RECORD, PREPROCESS, HELLO or SYNC"),
                };

            default:
                if (header.Type != KilnFrameType.Input)
                {
                    return Unexpected(header, "INPUT (the current job's input ends with a LAST INPUT frame)");
                }

                return HandleInput(header, payload);
        }
    }

    /// <summary>SYNC's answer: the same payload back.</summary>
    private static void WriteSync(IBufferWriter<byte> writer, byte[] echo)
    {
        var span = writer.GetSpan(KilnFrameHeader.Size + echo.Length);
        new KilnFrameHeader(KilnFrameType.Sync, KilnFrameFlags.None, echo.Length).Write(span);
        echo.CopyTo(span[KilnFrameHeader.Size..]);
        writer.Advance(KilnFrameHeader.Size + echo.Length);
    }

    private static Step Unexpected(KilnFrameHeader header, string expected) =>
        new(StepKind.Fail, new KilnError(KilnErrorCode.UnexpectedFrame, $"expected {expected}, got {KilnFrameHeader.Name(header.Type)}"));

    private static ReadOnlyMemory<byte> Contiguous(ReadOnlySequence<byte> payload) =>
        payload.IsSingleSegment ? payload.First : payload.ToArray();

    private Step HandleHello(ReadOnlyMemory<byte> payload)
    {
        if (!KilnHello.TryParse(payload, out var hello, out var error))
        {
            return new Step(StepKind.Fail, error);
        }

        if (hello.MaxVersion < KilnProtocol.MinVersion || hello.MinVersion > KilnProtocol.Version)
        {
            return new Step(StepKind.Fail, new KilnError(KilnErrorCode.UnsupportedVersion,
                $"client speaks protocol versions {hello.MinVersion}..{hello.MaxVersion}; this node speaks {KilnProtocol.MinVersion}..{KilnProtocol.Version}: upgrade the older side"));
        }

        if (_access is not null)
        {
            var authentication = _access.Authenticate(hello.Token);
            if (authentication.Identity is null)
            {
                _access.Record("hello", AuditEvent.Refused, null, authentication.Refusal!);
                return new Step(StepKind.Fail, new KilnError(KilnErrorCode.Unauthorized, authentication.Refusal!));
            }

            _identity = authentication.Identity;
        }

        _client = hello.ClientName.Length == 0 ? _peer : $"{hello.ClientName}@{_peer}";
        _marksCacheHits = (hello.Capabilities & KilnCapabilities.ResultOrigin) != 0;
        _user = FairShareUser(_identity, hello);
        _phase = KilnSessionPhase.Idle;
        var version = Math.Min(hello.MaxVersion, KilnProtocol.Version);
        return new Step(StepKind.Welcome, Welcome: new KilnWelcome(
            version, Capabilities(), (ushort)Math.Min(_executor.Slots, ushort.MaxValue),
            (ushort)Math.Clamp(_executor.FreeSlots, 0, ushort.MaxValue), _nodeName)
        { Attributes = WelcomeAttributes() });
    }

    /// <summary>The node's attributes, with where its local socket is for a peer on this machine.</summary>
    private IReadOnlyList<string> WelcomeAttributes() =>
        _options.LocalSocket is { } local && _access?.Address is { } address && IPAddress.IsLoopback(address)
            ? [.. _options.WelcomeAttributes, AheadAttribute, local.Attribute]
            : [.. _options.WelcomeAttributes, AheadAttribute];

    /// <summary>
    /// Says in WELCOME's attributes that this node takes JOB ahead of its input (also the
    /// <see cref="KilnCapabilities.JobAhead"/> bit): clients keep attributes with the node's facts, and
    /// send the JOB before the next connection's WELCOME comes.
    /// </summary>
    public const string AheadAttribute = "ahead=1";

    private KilnCapabilities Capabilities() =>
        KilnCapabilities.Compile
        | (_cache is null ? KilnCapabilities.None : KilnCapabilities.ResultCache | KilnCapabilities.Manifests)
        | (_executor.CanPreprocessRemotely ? KilnCapabilities.RemotePreprocess : KilnCapabilities.None)
        | KilnCapabilities.JobAhead;

    private Step HandleJob(ReadOnlyMemory<byte> payload, KilnFrameFlags flags)
    {
        if (!KilnJob.TryParse(payload, out var job, out var error, flags))
        {
            return new Step(StepKind.Fail, error);
        }

        // A job sent ahead counts once its input ends (or it is refused): one its client takes back is no job.
        if (!job.Ahead)
        {
            _executor.Counters.CountJob("kiln");
        }

        _jobStarted = PhaseTrace.Now();
        PhaseTrace.Mark("node", ++_jobCount, "job-frame (since accept)", _accepted);
        _job = job;
        _received = 0;
        _lastAnswered = null;

        // Refusals known from JOB alone are answered now; the input that follows is dropped. This is
        // the early answer a cache hit will use too.
        var refusal = Refuse(job);
        if (refusal is not null)
        {
            if (job.Ahead)
            {
                _executor.Counters.CountJob("kiln");
            }

            _phase = KilnSessionPhase.DiscardingInput;
            return new Step(StepKind.JobError, refusal);
        }

        _phase = KilnSessionPhase.ReceivingInput;
        _triedKeys.Clear();
        if (job.Ahead)
        {
            // No key yet: the input is still being made. The compiler starts now when a slot is free,
            // and the node looks the result up by its own key once the input is complete.
            _ahead = _executor.BeginAhead(CompileJobOf(job, ReadOnlyMemory<byte>.Empty), _stopping);
            PhaseTrace.Mark("node", _jobCount, _ahead is null ? "ahead-waits-for-input" : "ahead-started", _jobStarted);
            return Step.Continue;
        }

        return _cache is null ? Step.Continue : new Step(StepKind.Lookup);
    }

    /// <summary>The executor's job for <paramref name="job"/> with <paramref name="input"/>.</summary>
    private CompileJob CompileJobOf(KilnJob job, ReadOnlyMemory<byte> input) => new()
    {
        Compiler = job.Compiler,
        Arguments = job.Arguments,
        Language = job.Language,
        Input = input,
        Client = _client,
        User = _user,
        FrontEnd = "kiln",
        ActionKey = job.ActionKey.IsNone ? "" : job.ActionKey.Hex,
        SourceName = job.SourceName,
        Locale = job.Locale,
    };

    private KilnError? Refuse(KilnJob job)
    {
        if (_identity is { } identity && !identity.Has(Role.Execute))
        {
            _executor.Counters.CountRefused();
            return new KilnError(KilnErrorCode.Forbidden,
                $"'{identity.Name}' ({identity.Id}) has role {NodeAuthenticator.RoleName(identity.Role)}; compiling on this node needs execute");
        }

        if (job.InputSize > _options.MaxInputBytes)
        {
            _executor.Counters.CountRefused();
            return new KilnError(KilnErrorCode.TooLarge, $"input of {job.InputSize} bytes exceeds this node's limit of {_options.MaxInputBytes}");
        }

        if (job.Language == SourceLanguage.Unknown)
        {
            _executor.Counters.CountRefused();
            return new KilnError(KilnErrorCode.UnsupportedLanguage, "the job's input language is not C, C++, Objective-C or Objective-C++");
        }

        var pre = _executor.Precheck(job.Compiler, job.Arguments);
        return pre is { } refused ? ToError(refused) : null;
    }

    private Step HandleInput(KilnFrameHeader header, ReadOnlySequence<byte> payload)
    {
        var job = _job!;
        var abandon = (header.Flags & KilnFrameFlags.Abandon) != 0;
        if (abandon && !job.Ahead)
        {
            return new Step(StepKind.Fail, new KilnError(KilnErrorCode.MalformedFrame, "ABANDON ends only a job sent ahead of its input (JOB flagged AHEAD)"));
        }

        if (job.Ahead && _phase == KilnSessionPhase.ReceivingInput && _received + payload.Length > _options.MaxInputBytes)
        {
            // The ahead job's own size check, which JOB could not carry: refused as a JOB announcing it
            // would have been, and the rest of its input dropped.
            StopAhead();
            _executor.Counters.CountJob("kiln");
            _executor.Counters.CountRefused();
            _phase = KilnSessionPhase.DiscardingInput;
            _received += payload.Length;
            ReturnInput();
            return new Step(StepKind.JobError, new KilnError(KilnErrorCode.TooLarge, $"input of more than {_options.MaxInputBytes} bytes exceeds this node's limit"));
        }

        if (!job.Ahead && _received + payload.Length > job.InputSize)
        {
            return new Step(StepKind.Fail, new KilnError(KilnErrorCode.InputSizeMismatch,
                $"INPUT brings {_received + payload.Length} bytes; JOB announced {job.InputSize}"));
        }

        if (_phase == KilnSessionPhase.ReceivingInput && payload.Length > 0)
        {
            EnsureInputCapacity(_received + payload.Length);
            payload.CopyTo(_input.AsSpan((int)_received));
            _ahead?.Feed(payload);
        }

        _received += payload.Length;
        if ((header.Flags & KilnFrameFlags.Last) == 0)
        {
            return Step.Continue;
        }

        if (abandon)
        {
            // The client keeps its input after all: the compiler started for it stops, and nothing is answered.
            StopAhead();
            _phase = KilnSessionPhase.Idle;
            _job = null;
            ReturnInput();
            _received = 0;
            return Step.Continue;
        }

        if (_phase == KilnSessionPhase.DiscardingInput)
        {
            // The job was answered before its input ended; a shorter input is how the client stops early.
            _phase = KilnSessionPhase.Idle;
            _job = null;
            return Step.Continue;
        }

        if (job.Ahead)
        {
            _executor.Counters.CountJob("kiln");
        }
        else if (_received != job.InputSize)
        {
            return new Step(StepKind.Fail, new KilnError(KilnErrorCode.InputSizeMismatch,
                $"the LAST INPUT frame ends the input at {_received} bytes; JOB announced {job.InputSize}"));
        }

        return new Step(StepKind.Run);
    }

    private void EnsureInputCapacity(long needed)
    {
        if (_input is not null && _input.Length >= needed)
        {
            return;
        }

        // Grow with what arrives rather than trusting the announced size: a peer that announces
        // 256 MiB and sends nothing holds no memory.
        var most = _job!.Ahead ? _options.MaxInputBytes : _job.InputSize;
        var size = (int)Math.Min(most, Math.Max(needed, Math.Max(64 << 10, (_input?.Length ?? 0) * 2L)));
        var bigger = ArrayPool<byte>.Shared.Rent(size);
        if (_input is not null)
        {
            _input.AsSpan(0, (int)_received).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_input);
        }

        _input = bigger;
    }

    /// <summary>Stops the current job's compiler started ahead of its input, if any.</summary>
    private void StopAhead()
    {
        _ahead?.Abandon();
        _ahead = null;
    }

    private void ReturnInput()
    {
        if (_input is not null)
        {
            ArrayPool<byte>.Shared.Return(_input);
            _input = null;
        }
    }

    private async Task RunJobAsync(CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        var job = _job!;
        var ahead = _ahead;
        _ahead = null;
        _phase = KilnSessionPhase.Idle;
        _job = null;
        var input = _input is null ? ReadOnlyMemory<byte>.Empty : _input.AsMemory(0, (int)_received);
        try
        {
            var received = Digest.FromBytes(input.Span);
            if (job.InputDigest is { } expected && received != expected)
            {
                var mismatch = new KilnError(KilnErrorCode.InputDigestMismatch,
                    $"the input's SHA-256 is {received.Hex}, not the {expected.Hex} JOB announced");
                LogJobRefused(_logger, _client, job.SourceName, mismatch.Code, mismatch.Message);
                AuditJob(job, AuditEvent.Refused, $"{mismatch.Code}: {mismatch.Message}");
                await SendAsync(mismatch.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
                return;
            }

            // The key this node stores under is always its own: its compiler, the arguments it runs and
            // the digest of the bytes it received, whatever key the client named.
            var own = _cache?.KeyOf(job.Compiler, job.Arguments, job.Language, received, job.Locale);
            if (own is { } ownKey && !_triedKeys.Contains(ownKey))
            {
                _triedKeys.Add(ownKey);
                if (await _cache!.LookupAsync(ownKey, Consumer(), cancellationToken).ConfigureAwait(false) is { } cached)
                {
                    // A compiler started ahead for it is not needed.
                    ahead?.Abandon();
                    ahead = null;
                    Answered(job, ownKey, cached);
                    await SendOutcomeAsync(job.SourceName, job.Compiler, cached, input.Length, fromCache: true, deadline, cancellationToken).ConfigureAwait(false);
                    return;
                }
            }

            PhaseTrace.Mark("node", _jobCount, "input-complete", _jobStarted);
            var early = ahead is null ? null : await ahead.CompleteAsync().ConfigureAwait(false);
            ahead = null;
            var result = early ?? await _executor.ExecuteAsync(CompileJobOf(job, input), cancellationToken).ConfigureAwait(false);
            PhaseTrace.Mark("node", _jobCount, "executed", _jobStarted);
            if (result.Outcome is { } outcome)
            {
                // Stored beside the answer, not before it; a lookup of the key waits for the store.
                var storing = own is { } key ? _cache!.BeginStore(key, outcome, "kiln", _client) : null;
                if (own is { } stored)
                {
                    Answered(job, stored, outcome);
                }

                try
                {
                    AuditJob(job, AuditEvent.Done, $"exit {outcome.ExitCode}");
                    await SendOutcomeAsync(job.SourceName, job.Compiler, outcome, input.Length, fromCache: false, deadline, cancellationToken).ConfigureAwait(false);
                    PhaseTrace.Mark("node", _jobCount, "replied", _jobStarted);
                }
                finally
                {
                    if (storing is not null)
                    {
                        await storing.ConfigureAwait(false);
                        PhaseTrace.Mark("node", _jobCount, "stored", _jobStarted);
                    }
                }

                return;
            }

            if (result.Refusal == RefusalKind.Busy)
            {
                AuditJob(job, AuditEvent.Refused, "busy: " + (result.Message ?? "node busy"));
                await SendAsync(new KilnBusy(result.Message ?? "node busy").WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
                return;
            }

            var error = ToError(result);
            LogJobRefused(_logger, _client, job.SourceName, error.Code, error.Message);
            AuditJob(job, AuditEvent.Refused, $"{error.Code}: {error.Message}");
            await SendAsync(error.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ahead?.Abandon();
            ReturnInput();
            _received = 0;
        }
    }

    /// <summary>
    /// Looks the job up as soon as JOB arrives: by the client's ActionKey, then by the key this node
    /// computes from the input digest JOB announced. A hit answers RESULT now and drops the input that
    /// follows; a miss costs no round trip (the input is already on its way).
    /// </summary>
    private async Task LookUpEarlyAsync(CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        var job = _job!;
        var consumer = Consumer();
        CompileOutcome? hit = null;
        var hitKey = job.ActionKey;
        if (!job.ActionKey.IsNone)
        {
            _triedKeys.Add(job.ActionKey);
            hit = await _cache!.LookupAsync(job.ActionKey, consumer, cancellationToken).ConfigureAwait(false);
        }

        if (hit is null && job.InputDigest is { } announced
            && _cache!.KeyOf(job.Compiler, job.Arguments, job.Language, announced, job.Locale) is { } own && !_triedKeys.Contains(own))
        {
            _triedKeys.Add(own);
            hitKey = own;
            hit = await _cache.LookupAsync(own, consumer, cancellationToken).ConfigureAwait(false);
        }

        if (hit is null)
        {
            return;
        }

        // Only keys this node computed hold results, so the key that hit is the node's own.
        Answered(job, hitKey, hit);

        _phase = KilnSessionPhase.DiscardingInput;
        ReturnInput();
        await SendOutcomeAsync(job.SourceName, job.Compiler, hit, 0, fromCache: true, deadline, cancellationToken).ConfigureAwait(false);
    }

    private ResultConsumer Consumer() => new("kiln", _client, _peer, null);

    private async Task SendOutcomeAsync(string source, string compiler, CompileOutcome outcome, int inputBytes, bool fromCache,
        CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        var extras = outcome.DependencyFile is { } dependency
            ? new[] { new KilnOutputFile(KilnOutputFile.DependencyFileName, dependency) }
            : [];
        var reply = new KilnResult(outcome.ExitCode, outcome.Stdout, outcome.Stderr, outcome.Object, extras);
        if (reply.PayloadLength > KilnProtocol.MaxFrameLength)
        {
            var tooLarge = new KilnError(KilnErrorCode.TooLarge,
                $"the job's outputs take {reply.PayloadLength} bytes; one RESULT frame carries at most {KilnProtocol.MaxFrameLength}");
            await SendAsync(tooLarge.WriteFrame, deadline, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (fromCache)
        {
            LogJobCached(_logger, _client, source, compiler);
        }
        else
        {
            LogJobDone(_logger, _client, source, compiler, outcome.ExitCode, inputBytes);
        }

        var flags = fromCache && _marksCacheHits ? KilnFrameFlags.FromCache : KilnFrameFlags.None;
        await SendAsync(w => reply.WriteFrame(w, flags), deadline, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a job (run or refused) in the audit log with the compiler, the source and the client's name.</summary>
    private void AuditJob(KilnJob? job, string outcome, string detail) =>
        _access?.Record("job", outcome, _identity, job is null ? detail : $"{job.Compiler} {job.SourceName} ({job.InputSize} bytes) from client '{_client}': {detail}");

    /// <summary>The user a session's jobs count for in fair sharing (see <see cref="UserIdentity"/> for a bare token).</summary>
    internal static string FairShareUser(Identity? identity, KilnHello hello) => identity switch
    {
        // A token or certificate: its name, which the node granted.
        { } id when id != NodeAuthenticator.LocalUser => "id:" + id.Name,

        // Loopback on a node without tokens is the machine's own users: the name HELLO gives (KILN_USER).
        { } when hello.ClientName.Length > 0 => "local:" + hello.ClientName,
        _ => UserIdentity(hello.Token),
    };

    /// <summary>
    /// The user a token stands for in fair sharing: a short digest of it, never the token itself (it is
    /// a secret and this name appears in /api/stats). Empty without a token: the address counts then.
    /// </summary>
    internal static string UserIdentity(string token) =>
        token.Length == 0 ? "" : "token:" + Digest.FromBytes(System.Text.Encoding.UTF8.GetBytes(token)).Hex[..12];

    private static KilnError ToError(CompileResult refused)
    {
        var code = refused.Refusal switch
        {
            RefusalKind.CompilerNotAllowed => KilnErrorCode.CompilerNotAllowed,
            RefusalKind.ArgumentRefused => KilnErrorCode.ArgumentRefused,
            RefusalKind.TooLarge => KilnErrorCode.TooLarge,
            RefusalKind.PreprocessRefused => KilnErrorCode.PreprocessRefused,
            _ => KilnErrorCode.NodeFailure,
        };
        return new KilnError(code, refused.Message ?? code.ToString());
    }

    private async ValueTask SendAsync(Action<IBufferWriter<byte>> write, CancellationTokenSource deadline, CancellationToken cancellationToken)
    {
        write(_writer);

        // A peer that stops reading cannot hold the session: the flush has the read timeout too.
        deadline.CancelAfter(_options.ReadTimeout);
        try
        {
            await _writer.FlushAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _executor.Counters.CountProtocolError();
            LogProtocolError(_logger, _peer, KilnErrorCode.ReadTimeout, $"the peer did not read a reply for {_options.ReadTimeout.TotalSeconds:0.#} s");
            throw new OperationCanceledException("peer stopped reading", cancellationToken);
        }
        finally
        {
            deadline.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }
}
