using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Kiln.Core.Actions;
using Kiln.Core.Cas;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Cache;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Trust;

/// <summary>
/// Re-executes a sample of the Kiln-namespace actions others attested and this node did not run,
/// and attests what it got ("rebuilt"). A rebuild needs the action's canonical encoding in the CAS
/// (the blob whose SHA-256 is the ActionKey), its preprocessed input, and a local compiler with the
/// same binary digest; an action without them is skipped. Two ResultDigests for one ActionKey make
/// the action contested. The sample is chosen by hashing this node's key id with the action, so
/// nodes with the same rate check different actions.
/// </summary>
public sealed partial class RebuildChecker(
    KilnNodeOptions options, NodeTrust trust, AttestationStore attestations, AttestationIntake intake, IContentStore store,
    CompileExecutor executor, TrustCounters counters, TimeProvider time, ILogger<RebuildChecker> logger) : BackgroundService
{
    /// <summary>The largest action encoding read (real ones are a few hundred bytes).</summary>
    public const int MaxActionBytes = 1 << 20;

    /// <summary>The largest preprocessed input rebuilt (the Kiln protocol's own cap is the same order).</summary>
    public const long MaxInputBytes = 256L << 20;

    /// <summary>Actions looked at per round.</summary>
    public const int PerRound = 20;

    private static readonly string[] s_compilerNames = ["gcc", "cc", "g++", "c++", "clang", "clang++", "gcc-12", "g++-12", "clang-14", "clang++-14"];
    private readonly CompilerIdentityProbe _probe = new(Path.Combine(options.DataDirectory, "compilers"));
    private long _cursor;

    /// <summary>True when this node checks <paramref name="action"/> at its rebuild rate.</summary>
    public bool IsSampled(ActionKey action)
    {
        var rate = options.Trust.RebuildRate;
        if (rate >= 1)
        {
            return true;
        }

        if (rate <= 0)
        {
            return false;
        }

        var hash = SHA256.HashData(Encoding.ASCII.GetBytes(trust.NodeKey.PublicKey.Id + action.Hex));
        return BinaryPrimitives.ReadUInt32BigEndian(hash) < rate * uint.MaxValue;
    }

    /// <summary>Checks the actions attested since the last round (the background loop calls this; tests may too).</summary>
    public async Task<int> RunRoundAsync(CancellationToken cancellationToken)
    {
        var (actions, last) = attestations.NotSignedBy(trust.NodeKey.PublicKey.Id, _cursor, PerRound);
        _cursor = last;
        var checkedCount = 0;
        foreach (var action in actions)
        {
            if (await CheckAsync(action, cancellationToken).ConfigureAwait(false) is RebuildOutcome.Agreed or RebuildOutcome.Disagreed)
            {
                checkedCount++;
            }
        }

        return checkedCount;
    }

    /// <summary>Rebuilds one action if it is sampled and its inputs are here, and attests the result.</summary>
    public async Task<RebuildOutcome> CheckAsync(ActionKey action, CancellationToken cancellationToken)
    {
        if (!IsSampled(action))
        {
            return RebuildOutcome.NotSampled;
        }

        var others = attestations.ForAction(action);
        Span<byte> raw = stackalloc byte[ActionKey.Length];
        action.WriteTo(raw);
        var encoding = await ReadBlobAsync(Digest.FromHash(raw, 0), MaxActionBytes, byHash: true, cancellationToken).ConfigureAwait(false);
        var compile = encoding is null ? null : CompileAction.Decode(encoding);
        if (compile is null || compile.Key != action)
        {
            counters.Rebuild(null);
            return RebuildOutcome.Unavailable;
        }

        var input = compile.Input.Size <= MaxInputBytes
            ? await ReadBlobAsync(compile.Input, MaxInputBytes, byHash: false, cancellationToken).ConfigureAwait(false)
            : null;
        var compiler = FindCompiler(compile.Compiler);
        if (input is null || compiler is null)
        {
            counters.Rebuild(null);
            return RebuildOutcome.Unavailable;
        }

        var locale = compile.MessagesLocale == "C"
            ? new Dictionary<string, string>()
            : new Dictionary<string, string> { ["LC_ALL"] = compile.MessagesLocale };
        var run = await executor.ExecuteAsync(new CompileJob
        {
            Compiler = compiler,
            Arguments = compile.Arguments,
            Language = compile.Language,
            Input = input,
            Client = "rebuild-check",
            FrontEnd = "rebuild",
            Locale = locale,
        }, cancellationToken).ConfigureAwait(false);
        if (run.Outcome is not { } outcome)
        {
            RebuildNotRun(logger, action.Hex, run.Message ?? "");
            counters.Rebuild(null);
            return RebuildOutcome.NotRun;
        }

        var template = await TemplateAsync(others, cancellationToken).ConfigureAwait(false);
        var result = await StoreResultAsync(outcome, template, cancellationToken).ConfigureAwait(false);
        var digest = result.ResultDigest;
        _ = intake.Offer(Attestation.Create(trust.NodeKey, action, digest, AttestationKind.Rebuilt, time.GetUtcNow()), "self:rebuild");

        var agreed = true;
        foreach (var a in others)
        {
            agreed &= a.Result == digest;
        }

        counters.Rebuild(agreed);
        return agreed ? RebuildOutcome.Agreed : RebuildOutcome.Disagreed;
    }

    /// <summary>
    /// The ActionResult shape to rebuild into: the output names of a result others attested, read
    /// from the CAS, so the same bytes give the same ResultDigest whatever names the executing node chose.
    /// </summary>
    private async Task<ActionResult?> TemplateAsync(List<Attestation> others, CancellationToken cancellationToken)
    {
        foreach (var a in others)
        {
            var bytes = await ReadBlobAsync(a.Result, MaxActionBytes, byHash: false, cancellationToken).ConfigureAwait(false);
            if (bytes is not null && ActionResult.Decode(bytes) is { } result)
            {
                return result;
            }
        }

        return null;
    }

    /// <summary>Builds the result of a rebuild and puts its blobs in the CAS, so <c>kiln challenge</c> can compare them with the other side's.</summary>
    private async Task<ActionResult> StoreResultAsync(CompileOutcome outcome, ActionResult? template, CancellationToken cancellationToken)
    {
        var outputs = new List<OutputFile>();
        if (outcome.ExitCode == 0)
        {
            var objectName = "output.o";
            var mode = new OutputFile("", Digest.Empty).Mode;
            string? dependencyName = null;
            foreach (var o in template?.Outputs ?? [])
            {
                if (o.Name.EndsWith(".d", StringComparison.Ordinal))
                {
                    dependencyName = o.Name;
                }
                else
                {
                    objectName = o.Name;
                    mode = o.Mode;
                }
            }

            outputs.Add(new OutputFile(objectName, await PutAsync(outcome.Object, cancellationToken).ConfigureAwait(false), mode));
            if (dependencyName is not null && outcome.DependencyFile is { } dependencies)
            {
                outputs.Add(new OutputFile(dependencyName, await PutAsync(dependencies, cancellationToken).ConfigureAwait(false)));
            }
        }

        var result = new ActionResult(
            outcome.ExitCode,
            await PutAsync(outcome.Stdout, cancellationToken).ConfigureAwait(false),
            await PutAsync(outcome.Stderr, cancellationToken).ConfigureAwait(false),
            outputs);
        _ = await PutAsync(result.Encode(), cancellationToken).ConfigureAwait(false);
        return result;
    }

    private async Task<Digest> PutAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream(bytes.ToArray(), writable: false);
        var put = await store.PutAsync(content, cancellationToken).ConfigureAwait(false);
        return put.Ok ? put.Digest : Digest.FromBytes(bytes.Span);
    }

    private async Task<byte[]?> ReadBlobAsync(Digest digest, long limit, bool byHash, CancellationToken cancellationToken)
    {
        var stream = byHash
            ? await BlobLookup.OpenByHashAsync(store, digest, cancellationToken).ConfigureAwait(false)
            : await store.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return null;
        }

        await using (stream.ConfigureAwait(false))
        {
            if (stream.Length > limit)
            {
                return null;
            }

            var buffer = new byte[stream.Length];
            await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer;
        }
    }

    /// <summary>The allow-listed compiler name on this node whose binary is the one the action names, or null.</summary>
    private string? FindCompiler(CompilerIdentity wanted)
    {
        foreach (var name in s_compilerNames)
        {
            var path = executor.AllowList.Resolve(name, out _);
            if (path is not null && _probe.Probe(path) is { } identity && identity.BinaryDigest == wanted.BinaryDigest
                && identity.Target == wanted.Target && identity.Version == wanted.Version)
            {
                return name;
            }
        }

        return null;
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Trust.RebuildRate <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Trust.RebuildInterval);
        do
        {
            try
            {
                _ = await RunRoundAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                RebuildNotRun(logger, "(round)", e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "rebuild check of {Action} did not run: {Reason}")]
    private static partial void RebuildNotRun(ILogger logger, string action, string reason);
}
