using System.Text.Json.Serialization;

namespace Kiln.Server.Accounting;

/// <summary>Source-generated JSON for the accounting API and the dashboard feed (the program is Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(JobBatch))]
[JsonSerializable(typeof(List<JobRecord>))]
[JsonSerializable(typeof(List<RunningJob>))]
[JsonSerializable(typeof(AccountingSummary))]
[JsonSerializable(typeof(DashboardSnapshot))]
[JsonSerializable(typeof(IReadOnlyList<ContestedAction>))]
[JsonSerializable(typeof(BatchAccepted))]
public sealed partial class AccountingJsonContext : JsonSerializerContext;
