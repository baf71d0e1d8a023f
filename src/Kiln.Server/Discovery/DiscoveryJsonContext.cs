using System.Text.Json.Serialization;

namespace Kiln.Server.Discovery;

/// <summary>Source-generated JSON for <c>/api/nodes</c>, shared by the node and <c>kiln hosts --seed</c>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(List<KnownNode>))]
public sealed partial class DiscoveryJsonContext : JsonSerializerContext;
