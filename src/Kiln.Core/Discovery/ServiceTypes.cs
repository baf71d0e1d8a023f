namespace Kiln.Core.Discovery;

/// <summary>The DNS-SD service types Kiln announces and browses.</summary>
public static class ServiceTypes
{
    /// <summary>Kiln nodes (Kiln protocol port).</summary>
    public const string Kiln = "_kiln._tcp.local";

    /// <summary>distcc servers, as <c>distccd --zeroconf</c> registers them.</summary>
    public const string Distcc = "_distcc._tcp.local";

    /// <summary>The base service type of a (sub)type name: <c>_x._sub._distcc._tcp.local</c> → <c>_distcc._tcp.local</c>.</summary>
    public static string BaseOf(string typeName)
    {
        var sub = typeName.IndexOf("._sub.", StringComparison.OrdinalIgnoreCase);
        return sub < 0 ? typeName : typeName[(sub + "._sub.".Length)..];
    }
}
