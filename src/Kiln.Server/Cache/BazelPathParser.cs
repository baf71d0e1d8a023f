namespace Kiln.Server.Cache;

/// <summary>
/// Parses the part of a Bazel HTTP cache path after <c>/bazel/</c>: <c>(instance/)?(ac|cas)/&lt;64 hex&gt;</c>,
/// the shape bazel-remote accepts. The instance prefix is kept for logs and otherwise ignored; it
/// may not contain <c>.</c> or <c>..</c> segments, spaces, control characters or percent signs (an
/// encoded slash stays <c>%2F</c> in the decoded path). Empty segments are allowed: a cache URL
/// written with a trailing slash gives <c>/bazel//ac/…</c>.
/// </summary>
public static class BazelPathParser
{
    /// <summary>The longest path accepted; a Bazel URL prefix is a few segments at most.</summary>
    public const int MaxLength = 512;

    /// <summary>Parses <paramref name="path"/> (no leading slash); false with a reason when it names nothing.</summary>
    public static bool TryParse(ReadOnlySpan<char> path, out BazelCachePath parsed, out string error)
    {
        parsed = default;
        if (path.Length > MaxLength)
        {
            error = "path too long";
            return false;
        }

        var lastSlash = path.LastIndexOf('/');
        if (lastSlash < 0)
        {
            error = "want (ac|cas)/<64 hex>";
            return false;
        }

        var hex = path[(lastSlash + 1)..];
        if (hex.Length != 64 || !LowerHex.IsLowerHex(hex))
        {
            error = "want a SHA-256 as 64 lowercase hex after ac/ or cas/";
            return false;
        }

        var head = path[..lastSlash];
        var kindStart = head.LastIndexOf('/') + 1;
        BazelCacheKind kind;
        switch (head[kindStart..])
        {
            case "ac":
                kind = BazelCacheKind.ActionCache;
                break;
            case "cas":
                kind = BazelCacheKind.ContentStore;
                break;
            default:
                error = "want (ac|cas)/<64 hex>";
                return false;
        }

        var instance = kindStart == 0 ? [] : head[..(kindStart - 1)];
        if (!IsInstance(instance))
        {
            error = "bad instance prefix";
            return false;
        }

        parsed = new BazelCachePath(kind, hex.ToString(), instance.ToString());
        error = "";
        return true;
    }

    private static bool IsInstance(ReadOnlySpan<char> instance)
    {
        if (instance.IsEmpty)
        {
            return true;
        }

        foreach (var range in instance.Split('/'))
        {
            var segment = instance[range];
            if (segment is "." or "..")
            {
                return false;
            }

            foreach (var c in segment)
            {
                if (c is < '!' or > '~' or '%' or '\\')
                {
                    return false;
                }
            }
        }

        return true;
    }
}
