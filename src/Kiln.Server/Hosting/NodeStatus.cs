using System.Text.Json.Serialization;
using Kiln.Core.Cas;

namespace Kiln.Server.Hosting;

/// <summary>
/// The node's state as <c>/api/stats</c> returns it; <paramref name="Cache"/> is the store's size and
/// counters, <paramref name="Users"/> the jobs per user (fair sharing), <paramref name="Waiting"/> the
/// jobs queued for a slot, the BusyFor counters the BUSY answers given for the machine's sake, and
/// <paramref name="PreprocessedHere"/> the Kiln jobs this node preprocessed itself (remote preprocessing),
/// <paramref name="WarmStarts"/> the jobs that ran in a sandbox set up before they arrived,
/// <paramref name="AheadStarts"/> the jobs whose compiler started ahead of their input (JOB ahead) and
/// <paramref name="AheadAbandoned"/> those of them stopped before an answer (taken back, or a cache hit).
/// </summary>
public sealed record NodeStatus(
    string Node,
    int Slots,
    int FreeSlots,
    long Running,
    long MaxRunning,
    long CompilesOk,
    long CompilesFailed,
    long Refused,
    long Busy,
    long ProtocolErrors,
    long KilnJobs,
    long DistccJobs,
    long BytesIn,
    long BytesOut,
    StoreStatistics? Cache = null,
    IReadOnlyList<Scheduling.UserShare>? Users = null,
    int Waiting = 0,
    long BusyForLoad = 0,
    long BusyForMemory = 0,
    long BusyForDisk = 0,
    long PreprocessedHere = 0,
    long WarmStarts = 0,
    long AheadStarts = 0,
    long AheadAbandoned = 0);

/// <summary>Source-generated JSON for the node's API (no reflection: the program is Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(NodeStatus))]
public sealed partial class NodeJsonContext : JsonSerializerContext;
