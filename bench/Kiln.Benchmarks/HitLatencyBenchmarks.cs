using System.Net;
using BenchmarkDotNet.Attributes;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Hosting;

namespace Kiln.Benchmarks;

/// <summary>
/// A whole ccache hit over loopback HTTP from one in-process node, asked without a policy (k = 0)
/// and under a named policy with k = 2 that two node keys satisfy, in the same run.
/// </summary>
public class HitLatencyBenchmarks
{
    private const string Key = "3d786f31407ae8f07327a51794336d645676b94e";
    private static readonly DateTimeOffset s_time = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-bench-hit-").FullName;
    private KilnNode _node = null!;
    private HttpClient _http = null!;

    [GlobalSetup]
    public void Setup()
    {
        var a = SigningKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        var b = SigningKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray());
        var keys = new TrustStore();
        keys.Add("node-a", a.PublicKey);
        keys.Add("node-b", b.PublicKey);
        var options = new KilnNodeOptions
        {
            DataDirectory = _directory,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Http = new IPEndPoint(IPAddress.Loopback, 0),
            Slots = 1,
            NodeName = "bench",
        };
        options.Trust.Policies["quorum"] = new TrustPolicy(keys, 2);
        _node = KilnNode.StartAsync(options, CancellationToken.None, logging: _ => { }).GetAwaiter().GetResult();
        _http = new HttpClient { BaseAddress = new Uri($"http://{_node.HttpEndPoint}") };

        var value = new byte[16 * 1024];
        new Random(5).NextBytes(value);
        using (var put = _http.PutAsync("/ccache/" + Key, new ByteArrayContent(value)).GetAwaiter().GetResult())
        {
            put.EnsureSuccessStatusCode();
        }

        var subject = AttestationSubject.Of("ccache", Key);
        var digest = Digest.FromBytes(value);
        foreach (var signer in new[] { a, b })
        {
            using var content = new ByteArrayContent(Attestation.Create(signer, subject, digest, AttestationKind.Rebuilt, s_time).Encode());
            using var post = _http.PostAsync("/api/attestations", content).GetAwaiter().GetResult();
            post.EnsureSuccessStatusCode();
        }

        using var check = _http.GetAsync("/p/quorum/ccache/" + Key).GetAwaiter().GetResult();
        check.EnsureSuccessStatusCode();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _http.Dispose();
        _node.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "ccache hit, k=0")]
    public async Task<int> PlainHit()
    {
        using var response = await _http.GetAsync("/ccache/" + Key);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    [Benchmark(Description = "ccache hit, k=2")]
    public async Task<int> QuorumHit()
    {
        using var response = await _http.GetAsync("/p/quorum/ccache/" + Key);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }
}
