using System.Text.Json.Serialization;

namespace Kiln.Server.Security;

/// <summary>Source-generated JSON for the security API (the program is Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(List<TokenListing>))]
internal sealed partial class SecurityJsonContext : JsonSerializerContext;
