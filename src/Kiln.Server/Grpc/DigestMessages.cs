using Kiln.Core.Hashing;
using ProtoDigest = Build.Bazel.Remote.Execution.V2.Digest;

namespace Kiln.Server.Grpc;

/// <summary>Converts between REAPI's <c>Digest</c> message (hex text + size) and Kiln's <see cref="Digest"/>.</summary>
internal static class DigestMessages
{
    /// <summary>Parses a REAPI digest: 64 hex characters of SHA-256 and a non-negative size.</summary>
    public static bool TryParse(ProtoDigest? message, out Digest digest)
    {
        digest = default;
        return message is not null && Digest.TryParse(message.Hash, message.SizeBytes, out digest);
    }

    /// <summary>The REAPI form of <paramref name="digest"/>.</summary>
    public static ProtoDigest ToMessage(Digest digest) => new() { Hash = digest.Hex, SizeBytes = digest.Size };

    /// <summary>The text of a digest message for error messages (hash/size, as given).</summary>
    public static string Describe(ProtoDigest? message) =>
        message is null ? "(no digest)" : $"{Truncate(message.Hash)}/{message.SizeBytes}";

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
