using BenchmarkDotNet.Attributes;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Server.Trust;

namespace Kiln.Benchmarks;

/// <summary>
/// The cost of the trust decision on a hit: the attestations of one action read from the node's
/// SQLite index, each verified (Ed25519), owners counted. k = 0 with no keys is the plain cache's
/// fast path (no lookup at all).
/// </summary>
[MemoryDiagnoser]
public class PolicyCheckBenchmarks
{
    private static readonly DateTimeOffset s_time = new(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-bench-policy-").FullName;
    private AttestationStore _store = null!;
    private TrustPolicy _open = null!;
    private TrustPolicy _k1 = null!;
    private TrustPolicy _k2 = null!;
    private ActionKey _action;
    private Digest _result;

    [GlobalSetup]
    public void Setup()
    {
        _store = new AttestationStore(_directory);
        var a = SigningKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
        var b = SigningKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray());
        var keys = new TrustStore();
        keys.Add("node-a", a.PublicKey);
        keys.Add("node-b", b.PublicKey);
        _open = new TrustPolicy(new TrustStore(), 0);
        _k1 = new TrustPolicy(keys, 1);
        _k2 = new TrustPolicy(keys, 2);
        _action = ActionKey.FromEncoding("bench action"u8);
        _result = Digest.FromBytes("bench result"u8);

        // Other actions' attestations, so the lookup is not in an empty table.
        for (var i = 0; i < 10_000; i++)
        {
            _store.Add(Attestation.Create(a, ActionKey.FromEncoding(BitConverter.GetBytes(i)), _result, AttestationKind.Executed, s_time), "bench");
        }

        _store.Add(Attestation.Create(a, _action, _result, AttestationKind.Executed, s_time), "bench");
        _store.Add(Attestation.Create(b, _action, _result, AttestationKind.Rebuilt, s_time), "bench");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "k=0 (plain cache)")]
    public bool Open() => PolicyResultGate.MayServe(_open, "kiln", _action.Hex, _result, _store);

    [Benchmark(Description = "k=1, 2 attestations")]
    public bool KOne() => PolicyResultGate.MayServe(_k1, "kiln", _action.Hex, _result, _store);

    [Benchmark(Description = "k=2, 2 attestations")]
    public bool KTwo() => PolicyResultGate.MayServe(_k2, "kiln", _action.Hex, _result, _store);
}
