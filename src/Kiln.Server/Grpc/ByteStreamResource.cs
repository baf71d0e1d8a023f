using System.Globalization;
using Kiln.Core.Hashing;

namespace Kiln.Server.Grpc;

/// <summary>
/// A parsed ByteStream resource name of the REAPI CAS:
/// read <c>{instance}/blobs/{hash}/{size}</c>, write <c>{instance}/uploads/{uuid}/blobs/{hash}/{size}[/metadata…]</c>.
/// The instance may span segments, but none of them is one of the API's keywords, so the first
/// keyword segment ends it. Only SHA-256 is served, whose digest-function segment is always omitted.
/// </summary>
internal readonly record struct ByteStreamResource(string Instance, Digest Digest)
{
    private static readonly string[] Keywords = ["blobs", "uploads", "actions", "actionResults", "operations", "capabilities", "compressed-blobs"];

    /// <summary>Parses a read resource name, or explains why it is not one.</summary>
    public static bool TryParseRead(string name, out ByteStreamResource resource, out string error)
    {
        resource = default;
        var segments = name.Split('/');
        var k = FirstKeyword(segments);
        if (k < 0 || segments[k] is not ("blobs" or "compressed-blobs"))
        {
            error = $"'{Shorten(name)}' is not a read resource name ({{instance}}/blobs/{{hash}}/{{size}})";
            return false;
        }

        if (segments[k] == "compressed-blobs")
        {
            error = "compressed-blobs are not served (no compressor is advertised)";
            return false;
        }

        return TryDigestAt(name, segments, k, k + 1, exact: true, out resource, out error);
    }

    /// <summary>Parses a write resource name, or explains why it is not one.</summary>
    public static bool TryParseWrite(string name, out ByteStreamResource resource, out string error)
    {
        resource = default;
        var segments = name.Split('/');
        var k = FirstKeyword(segments);
        if (k < 0 || segments[k] != "uploads" || k + 2 >= segments.Length || segments[k + 1].Length == 0
            || segments[k + 2] is not ("blobs" or "compressed-blobs"))
        {
            error = $"'{Shorten(name)}' is not a write resource name ({{instance}}/uploads/{{uuid}}/blobs/{{hash}}/{{size}})";
            return false;
        }

        if (segments[k + 2] == "compressed-blobs")
        {
            error = "compressed-blobs are not accepted (no compressor is advertised)";
            return false;
        }

        // Segments after the size are optional metadata, which the API lets a server ignore.
        return TryDigestAt(name, segments, k, k + 3, exact: false, out resource, out error);
    }

    private static bool TryDigestAt(string name, string[] segments, int keyword, int at, bool exact, out ByteStreamResource resource, out string error)
    {
        resource = default;
        if (at + 2 > segments.Length || (exact && at + 2 != segments.Length))
        {
            error = $"'{Shorten(name)}' does not end in {{hash}}/{{size}}";
            return false;
        }

        var hash = segments[at];
        if (hash.Length != Digest.HexLength)
        {
            error = hash.Length is 32 or 40 or 96 or 128
                ? $"digest function of hash '{hash}' is not served (only SHA-256)"
                : $"'{Shorten(hash)}' is not a SHA-256 hash (64 hex characters)";
            return false;
        }

        if (!long.TryParse(segments[at + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var size)
            || !Digest.TryParse(hash, size, out var digest))
        {
            error = $"'{Shorten(segments[at])}/{Shorten(segments[at + 1])}' is not a digest (64 hex characters / size)";
            return false;
        }

        resource = new ByteStreamResource(string.Join('/', segments, 0, keyword), digest);
        error = "";
        return true;
    }

    private static int FirstKeyword(string[] segments)
    {
        for (var i = 0; i < segments.Length; i++)
        {
            if (Array.IndexOf(Keywords, segments[i]) >= 0)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
