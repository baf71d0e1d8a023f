using System.Text.Json.Serialization;

namespace Kiln.Server.Cache;

/// <summary>Source-generated JSON for the cache front ends' counters (no reflection: the program is Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(CacheCounters))]
public sealed partial class CacheJsonContext : JsonSerializerContext;
