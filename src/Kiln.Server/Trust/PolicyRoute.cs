using Kiln.Core.Hashing;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Trust;

/// <summary>
/// How ccache and Bazel consumers, whose protocols cannot carry a trust policy, choose one: by URL
/// (<c>http://node:3633/p/NAME/ccache/…</c>, <c>/p/NAME/bazel/…</c>) or, on gRPC, by the instance name
/// (<c>--remote_instance_name=p/NAME</c>). The policy is a view, not a partition: entries are stored
/// and looked up under the same keys whatever policy the consumer names, and only the decision to
/// serve a hit depends on it.
/// </summary>
public static class PolicyRoute
{
    /// <summary>The URL (and instance name) prefix that names a policy.</summary>
    public const string Prefix = "/p/";

    /// <summary>
    /// Splits <c>/p/NAME/rest</c> into NAME and <c>/rest</c>; any other path is returned whole with a
    /// null name (the node's default policy).
    /// </summary>
    public static string Strip(string path, out string? policy)
    {
        policy = null;
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return path;
        }

        var end = path.IndexOf('/', Prefix.Length);
        if (end < 0)
        {
            return path;
        }

        policy = path[Prefix.Length..end];
        return path[end..];
    }

    /// <summary>
    /// Splits a REAPI instance name <c>p/NAME[/rest]</c> into NAME and <c>rest</c> (the instance the
    /// entries live under); other instance names are returned whole with a null name.
    /// </summary>
    public static string StripInstance(string instance, out string? policy)
    {
        policy = null;
        if (!instance.StartsWith("p/", StringComparison.Ordinal))
        {
            return instance;
        }

        var end = instance.IndexOf('/', 2);
        policy = end < 0 ? instance[2..] : instance[2..end];
        return end < 0 ? "" : instance[(end + 1)..];
    }

    /// <summary>Asks the node's gate whether the hit (<paramref name="ns"/>, <paramref name="key"/>) may be served to this HTTP request.</summary>
    public static ValueTask<bool> MayServeAsync(HttpContext context, string frontEnd, string ns, string key, Digest value)
    {
        var services = context.RequestServices;
        if (services.GetService<IResultGate>() is not { } gate)
        {
            return ValueTask.FromResult(true);
        }

        _ = Strip(context.Request.Path.Value ?? "", out var name);
        var policy = name is null ? null : services.GetService<NodeTrust>()?.Resolve(name);
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var consumer = new ResultConsumer(frontEnd, context.User.Identity?.Name ?? address, address, policy);
        return gate.MayServeAsync(ns, key, value, consumer, context.RequestAborted);
    }
}
