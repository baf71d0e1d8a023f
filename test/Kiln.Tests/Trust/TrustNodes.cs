using System.Net.Http.Headers;
using System.Text.Json;
using Kiln.Core.Actions;
using Kiln.Core.Cas;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Trust;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.Trust;

/// <summary>
/// Nodes with known keys (fixed seeds written as DATA/keys/node.key before start), and the path by
/// which a node computes a Kiln-namespace result: the action's encoding and input into the CAS, the
/// compile on the node's executor, the result's blobs and entry stored, the witness told.
/// </summary>
internal static class TrustNodes
{
    public static SigningKey Key(byte seed) => SigningKey.FromSeed(Enumerable.Repeat(seed, 32).ToArray());

    public static Task<TestNode> StartAsync(byte seed, Action<Kiln.Server.Hosting.KilnNodeOptions>? configure = null) =>
        TestNode.StartAsync(configure: o =>
        {
            Key(seed).Save(Path.Combine(o.DataDirectory, "keys", "node.key"));
            configure?.Invoke(o);
        });

    public static HttpClient Http(TestNode node) =>
        new() { BaseAddress = new Uri($"http://{node.Node.HttpEndPoint}"), Timeout = TimeSpan.FromSeconds(30) };

    public static T Service<T>(TestNode node)
        where T : notnull => node.Node.Services.GetRequiredService<T>();

    public static CompilerIdentity Gcc() =>
        new CompilerIdentityProbe(null).Probe("/usr/bin/gcc") ?? throw new InvalidOperationException("gcc cannot be probed");

    /// <summary>The action of compiling <paramref name="source"/> (C, preprocessed on the node when <paramref name="preprocessOnNode"/>).</summary>
    public static CompileAction Action(byte[] source, IReadOnlyList<string> arguments, bool preprocessOnNode = false) =>
        new(Gcc(), preprocessOnNode ? ["-xc", .. arguments] : arguments,
            SourceLanguage.PreprocessedC, Digest.FromBytes(source), "C");

    /// <summary>Runs <paramref name="action"/> on <paramref name="node"/> as the node does for a job it computes, and returns its result.</summary>
    public static async Task<ActionResult> ExecuteAsync(TestNode node, CompileAction action, byte[] input, CancellationToken cancellationToken)
    {
        var store = Service<IContentStore>(node);
        _ = await PutAsync(store, action.Encode(), cancellationToken);
        _ = await PutAsync(store, input, cancellationToken);
        var run = await node.Node.Executor.ExecuteAsync(new CompileJob
        {
            Compiler = "gcc",
            Arguments = action.Arguments,
            Language = action.Language,
            Input = input,
        }, cancellationToken);
        var outcome = run.Outcome ?? throw new InvalidOperationException($"the compile did not run: {run.Message}");
        Assert.True(outcome.ExitCode == 0, System.Text.Encoding.UTF8.GetString(outcome.Stderr.Span));
        var result = new ActionResult(
            outcome.ExitCode,
            await PutAsync(store, outcome.Stdout.ToArray(), cancellationToken),
            await PutAsync(store, outcome.Stderr.ToArray(), cancellationToken),
            [new OutputFile("output.o", await PutAsync(store, outcome.Object.ToArray(), cancellationToken))]);
        var value = await PutAsync(store, result.Encode(), cancellationToken);
        Assert.True(await Service<IActionCache>(node).PutAsync(AttestationSubject.KilnNamespace, action.Key.Hex, new ActionEntry(value, result.References()), "node", cancellationToken));
        await Service<IResultWitness>(node).ExecutedAsync(action.Key, result, cancellationToken);
        return result;
    }

    /// <summary>Stores <paramref name="result"/> under the action as an uploading client would (no execution, no witness).</summary>
    public static async Task UploadAsync(TestNode node, ActionKey action, ActionResult result, byte[] objectBytes, CancellationToken cancellationToken)
    {
        var store = Service<IContentStore>(node);
        _ = await PutAsync(store, objectBytes, cancellationToken);
        _ = await PutAsync(store, [], cancellationToken);
        var value = await PutAsync(store, result.Encode(), cancellationToken);
        Assert.True(await Service<IActionCache>(node).PutAsync(AttestationSubject.KilnNamespace, action.Hex, new ActionEntry(value, result.References()), "mallory", cancellationToken));
    }

    public static async Task<Digest> PutAsync(IContentStore store, byte[] bytes, CancellationToken cancellationToken)
    {
        if (bytes.Length == 0)
        {
            return Digest.Empty;
        }

        using var content = new MemoryStream(bytes, writable: false);
        var put = await store.PutAsync(content, cancellationToken);
        Assert.True(put.Ok, put.ToString());
        return put.Digest;
    }

    /// <summary>What the node's gate answers a consumer of the Kiln protocol with <paramref name="policy"/>.</summary>
    public static async Task<bool> ServedAsync(TestNode node, ActionKey action, TrustPolicy? policy)
    {
        var entry = await Service<IActionCache>(node).GetAsync(AttestationSubject.KilnNamespace, action.Hex, CancellationToken.None);
        Assert.NotNull(entry);
        return await Service<IResultGate>(node).MayServeAsync(
            AttestationSubject.KilnNamespace, action.Hex, entry.Value, new ResultConsumer("kiln", "alice", "127.0.0.1", policy), CancellationToken.None);
    }

    public static async Task<(int Status, IntakeReport? Report, string Body)> PostAsync(HttpClient http, params byte[][] attestations)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(
            new AttestationSubmission([.. attestations.Select(Convert.ToBase64String)]), TrustJsonContext.Default.AttestationSubmission);
        using var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync("/api/attestations", content);
        var body = await response.Content.ReadAsStringAsync();
        IntakeReport? report = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            report = JsonSerializer.Deserialize(body, TrustJsonContext.Default.IntakeReport);
        }

        return ((int)response.StatusCode, report, body);
    }

    public static async Task<TrustStats> StatsAsync(HttpClient http) =>
        JsonSerializer.Deserialize(await http.GetByteArrayAsync("/api/attestations/stats"), TrustJsonContext.Default.TrustStats)!;

    public static TrustPolicy Policy(int k, params (string Owner, SigningKey Key)[] keys)
    {
        var store = new TrustStore();
        foreach (var (owner, key) in keys)
        {
            store.Add(owner, key.PublicKey);
        }

        return new TrustPolicy(store, k);
    }
}
