using Microsoft.AspNetCore.Http;

namespace Kiln.Server.Accounting;

/// <summary>The dashboard's page, script and style sheet, built into the assembly (the machines have no internet and no CDN).</summary>
internal static class DashboardAssets
{
    private static readonly Dictionary<string, byte[]> s_assets = new(StringComparer.Ordinal);
    private static readonly Lock s_gate = new();

    public static IResult Result(string name)
    {
        var type = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            _ => "text/css; charset=utf-8",
        };
        return Results.Bytes(Load(name), type);
    }

    internal static byte[] Load(string name)
    {
        lock (s_gate)
        {
            if (!s_assets.TryGetValue(name, out var bytes))
            {
                using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("Kiln.Server.Dashboard." + name)
                    ?? throw new InvalidOperationException($"dashboard asset {name} is not built into Kiln.Server");
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                bytes = copy.ToArray();
                s_assets[name] = bytes;
            }

            return bytes;
        }
    }
}
