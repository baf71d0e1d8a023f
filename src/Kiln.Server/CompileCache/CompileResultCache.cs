using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Kiln.Core.Actions;
using Kiln.Core.Cas;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Protocol;
using Kiln.Server.Cache;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Kiln.Server.Trust;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.CompileCache;

/// <summary>
/// The node's cache of compile results, shared by the Kiln protocol and distcc front ends: entries
/// in the action cache namespace <see cref="Namespace"/> keyed by the <see cref="CompileAction"/>'s
/// ActionKey, values the canonical <see cref="ActionResult"/>, outputs in the content store. The node
/// stores only under keys it computed itself, from its own compiler identity, the arguments it ran
/// and the digest of the input it received, so a client that names the wrong key cannot make an
/// entry lie; a lookup by a client's key finds only what some such computation stored.
/// </summary>
public sealed partial class CompileResultCache
{
    /// <summary>The action cache namespace of compile results.</summary>
    public const string Namespace = "kiln";

    /// <summary>The output name of the object file in a stored result.</summary>
    public const string ObjectOutput = "object.o";

    /// <summary>The output name of a dependency file in a stored result.</summary>
    public const string DependencyOutput = "dependency.d";

    private readonly IContentStore _store;
    private readonly IActionCache _actions;
    private readonly IResultGate _gate;
    private readonly IResultWitness _witness;
    private readonly CompileExecutor _executor;
    private readonly CacheCounters _counters;
    private readonly CompilerIdentityProbe _probe;
    private readonly ILogger<CompileResultCache> _logger;

    /// <summary>Stores under way (<see cref="BeginStore"/>): a lookup of one of these keys waits for it.</summary>
    private readonly ConcurrentDictionary<ActionKey, Task<bool>> _storing = new();

    /// <summary>Creates the cache over the node's store, action cache and trust seams.</summary>
    public CompileResultCache(IContentStore store, IActionCache actions, IResultGate gate, IResultWitness witness,
        CompileExecutor executor, CacheCounters counters, KilnNodeOptions options, ILogger<CompileResultCache> logger)
    {
        _store = store;
        _actions = actions;
        _gate = gate;
        _witness = witness;
        _executor = executor;
        _counters = counters;
        _logger = logger;
        _probe = new CompilerIdentityProbe(Path.Combine(options.DataDirectory, "compilers"));
    }

    /// <summary>
    /// The ActionKey this node gives a compile: its own identity of <paramref name="compiler"/> (as its
    /// allow-list resolves the name), the arguments, the input's language and digest, and the messages
    /// locale. Null when the compiler is not allowed here or cannot be probed.
    /// </summary>
    public ActionKey? KeyOf(string compiler, IReadOnlyList<string> arguments, SourceLanguage language, Digest input,
        IReadOnlyDictionary<string, string> locale)
    {
        var path = _executor.AllowList.Resolve(compiler, out _);
        if (path is null || _probe.Probe(path) is not { } identity)
        {
            return null;
        }

        return new CompileAction(identity, arguments, language, input, CompileAction.MessagesLocaleOf(locale)).Key;
    }

    /// <summary>
    /// The stored outcome of <paramref name="key"/>, when the entry is complete, decodes, fits one
    /// Kiln RESULT frame and the gate lets <paramref name="consumer"/> have it; otherwise null (a miss).
    /// </summary>
    public ValueTask<CompileOutcome?> LookupAsync(ActionKey key, ResultConsumer consumer, CancellationToken cancellationToken) =>
        LookupAsync(key, consumer, KilnProtocol.MaxFrameLength, countMiss: true, cancellationToken);

    /// <summary>
    /// The result a node sends unasked-for behind a MANIFEST (<see cref="KilnFrameFlags.WithResult"/>):
    /// as <see cref="LookupAsync(ActionKey, ResultConsumer, CancellationToken)"/>, for a result of at
    /// most <see cref="KilnProtocol.EagerResultLimit"/> bytes. A miss is not counted (no one asked); a hit
    /// is (it was served, though the client may find its headers changed).
    /// </summary>
    public ValueTask<CompileOutcome?> LookupEagerAsync(ActionKey key, ResultConsumer consumer, CancellationToken cancellationToken) =>
        LookupAsync(key, consumer, KilnProtocol.EagerResultLimit, countMiss: false, cancellationToken);

    private async ValueTask<CompileOutcome?> LookupAsync(ActionKey key, ResultConsumer consumer, long maxBytes, bool countMiss, CancellationToken cancellationToken)
    {
        var counters = CountersOf(consumer.FrontEnd);
        var outcome = await FindAsync(key, consumer, maxBytes, cancellationToken).ConfigureAwait(false);
        if (outcome is null)
        {
            if (countMiss)
            {
                counters.Miss();
            }

            return null;
        }

        counters.Hit(outcome.Object.Length + outcome.Stdout.Length + outcome.Stderr.Length);
        LogHit(consumer.FrontEnd, consumer.Identity, key.Hex);
        return outcome;
    }

    private async ValueTask<CompileOutcome?> FindAsync(ActionKey key, ResultConsumer consumer, long maxBytes, CancellationToken cancellationToken)
    {
        // A result whose answer went out before it was stored: whoever asks after that answer finds it.
        if (_storing.TryGetValue(key, out var storing))
        {
            await storing.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var hex = key.Hex;
        var entry = await _actions.GetAsync(Namespace, hex, cancellationToken).ConfigureAwait(false);
        if (entry is null || entry.Value.Size > MaxResultEncodingBytes)
        {
            return null;
        }

        var encoded = await ReadAsync(entry.Value, cancellationToken).ConfigureAwait(false);
        if (encoded is null || ActionResult.Decode(encoded) is not { } result || result.ResultDigest != entry.Value)
        {
            return null;
        }

        long total = result.Stdout.Size + result.Stderr.Size;
        foreach (var output in result.Outputs)
        {
            total += output.Digest.Size;
        }

        if (total > maxBytes)
        {
            return null;
        }

        if (!await _gate.MayServeAsync(Namespace, hex, entry.Value, consumer, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var stdout = await ReadAsync(result.Stdout, cancellationToken).ConfigureAwait(false);
        var stderr = await ReadAsync(result.Stderr, cancellationToken).ConfigureAwait(false);
        byte[]? obj = [];
        byte[]? dependency = null;
        foreach (var output in result.Outputs)
        {
            switch (output.Name)
            {
                case ObjectOutput:
                    obj = await ReadAsync(output.Digest, cancellationToken).ConfigureAwait(false);
                    break;
                case DependencyOutput:
                    dependency = await ReadAsync(output.Digest, cancellationToken).ConfigureAwait(false) ?? [];
                    break;
                default:
                    // An output this node does not know how to hand back: not a result it can serve.
                    return null;
            }
        }

        // A blob evicted between the lookup and the reads makes a miss, never a broken hit.
        if (stdout is null || stderr is null || obj is null)
        {
            return null;
        }

        return new CompileOutcome { ExitCode = result.ExitCode, Stdout = stdout, Stderr = stderr, Object = obj, DependencyFile = dependency };
    }

    /// <summary>
    /// Starts <see cref="StoreAsync"/> on the thread pool, so the job's answer need not wait for the
    /// blobs, the index and the attestation (about 3 ms per compile, KILN_TRACE). Until it ends, a
    /// lookup of <paramref name="key"/> waits for it, so a client that asks after the first one got
    /// its answer still finds the result. The caller awaits the task before its session ends; it is
    /// not cancelled with the job, so a client that hangs up after its answer loses nothing.
    /// </summary>
    public Task<bool> BeginStore(ActionKey key, CompileOutcome outcome, string frontEnd, string writer)
    {
        if (outcome.ExitCode != 0)
        {
            return Task.FromResult(false);
        }

        var store = new Task<Task<bool>>(() => StoreAsync(key, outcome, frontEnd, writer, CancellationToken.None).AsTask());
        var task = store.Unwrap();
        if (!_storing.TryAdd(key, task))
        {
            // The same result is being stored by another job now: this one adds nothing.
            return Task.FromResult(false);
        }

        _ = task.ContinueWith(done => _storing.TryRemove(new KeyValuePair<ActionKey, Task<bool>>(key, done)), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        store.Start(TaskScheduler.Default);
        return task;
    }

    /// <summary>Completes when every store begun so far has ended (for tests that read the action cache directly).</summary>
    public Task WhenStoredAsync() => Task.WhenAll(_storing.Values);

    /// <summary>
    /// Records what this node's compile of <paramref name="key"/> produced: the blobs, the canonical
    /// result, the action cache entry (written by <paramref name="writer"/>), then tells the witness.
    /// Only successful compiles are kept (as ccache does): a failed one reruns to report its
    /// diagnostics anyway. A store that cannot take the result (full, too large) loses nothing and
    /// the job's answer is unchanged. True when the entry was recorded.
    /// </summary>
    public async ValueTask<bool> StoreAsync(ActionKey key, CompileOutcome outcome, string frontEnd, string writer, CancellationToken cancellationToken)
    {
        if (outcome.ExitCode != 0)
        {
            return false;
        }

        try
        {
            var stdout = await PutAsync(outcome.Stdout, cancellationToken).ConfigureAwait(false);
            var stderr = await PutAsync(outcome.Stderr, cancellationToken).ConfigureAwait(false);
            var obj = await PutAsync(outcome.Object, cancellationToken).ConfigureAwait(false);
            Digest? dependency = outcome.DependencyFile is { } d ? await PutAsync(d, cancellationToken).ConfigureAwait(false) : null;
            if (stdout is null || stderr is null || obj is null || (outcome.DependencyFile is not null && dependency is null))
            {
                return false;
            }

            var outputs = new List<OutputFile>(2) { new(ObjectOutput, obj.Value) };
            if (dependency is { } dep)
            {
                outputs.Add(new OutputFile(DependencyOutput, dep));
            }

            var result = new ActionResult(outcome.ExitCode, stdout.Value, stderr.Value, outputs);
            var value = await PutAsync(result.Encode(), cancellationToken).ConfigureAwait(false);
            if (value is null)
            {
                return false;
            }

            var entry = new ActionEntry(value.Value, result.References());
            if (!await _actions.PutAsync(Namespace, key.Hex, entry, writer, cancellationToken).ConfigureAwait(false))
            {
                LogNotStored(key.Hex, "the action cache did not take the entry (store full)");
                return false;
            }

            CountersOf(frontEnd).Wrote(value.Value.Size + obj.Value.Size + stdout.Value.Size + stderr.Value.Size);
            await _witness.ExecutedAsync(key, result, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (IOException e)
        {
            LogNotStored(key.Hex, e.Message);
            return false;
        }
    }

    /// <summary>The counters of a front end: "distcc" or the Kiln protocol.</summary>
    private CacheFrontEndCounters CountersOf(string frontEnd) => frontEnd == "distcc" ? _counters.Distcc : _counters.Kiln;

    /// <summary>A canonical result names a few outputs; anything larger is not one of ours.</summary>
    private const long MaxResultEncodingBytes = 1 << 20;

    private async ValueTask<Digest?> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        var digest = Digest.FromBytes(bytes.Span);
        using var stream = MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
        var put = await _store.PutAsync(digest, stream, cancellationToken).ConfigureAwait(false);
        if (!put.Ok)
        {
            LogNotStored(digest.Hex, $"{put.Status}: {put.Message}");
            return null;
        }

        return digest;
    }

    private async ValueTask<byte[]?> ReadAsync(Digest digest, CancellationToken cancellationToken)
    {
        if (digest.Size == 0)
        {
            return [];
        }

        if (digest.Size <= FileContentStore.SmallBlobBytes && _store is FileContentStore files)
        {
            // A small blob read before comes from memory. The array is the store's own copy: every
            // caller here only decodes it or sends it (read-only memory in CompileOutcome).
            return files.ReadSmall(digest);
        }

        var stream = await _store.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            var bytes = new byte[digest.Size];
            try
            {
                await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException)
            {
                return null;
            }

            return bytes;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "compile cache: {FrontEnd} hit for {Client}: {Key}")]
    private partial void LogHit(string frontEnd, string client, string key);

    [LoggerMessage(Level = LogLevel.Warning, Message = "compile cache: result {Key} not stored: {Reason}")]
    private partial void LogNotStored(string key, string reason);
}
