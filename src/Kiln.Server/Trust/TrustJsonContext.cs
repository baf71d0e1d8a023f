using System.Text.Json.Serialization;

namespace Kiln.Server.Trust;

/// <summary>Source-generated JSON for the attestation API (the program is Native AOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(AttestationList))]
[JsonSerializable(typeof(AttestationFeed))]
[JsonSerializable(typeof(AttestationSubmission))]
[JsonSerializable(typeof(IntakeReport))]
[JsonSerializable(typeof(TrustStats))]
[JsonSerializable(typeof(ContestedReport))]
public sealed partial class TrustJsonContext : JsonSerializerContext;
