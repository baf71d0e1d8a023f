using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Kiln.Core.Security;
using Kiln.Server.Grpc;
using Kiln.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Security;

/// <summary>
/// Authentication and roles on the HTTP listener (ccache, Bazel HTTP cache, /api/, /metrics) and the
/// gRPC listener, in one middleware that runs before any route. A request proves who it is with the
/// same tokens as the Kiln protocol, in whichever form its client can send: <c>Authorization: Bearer
/// TOKEN</c> (ccache's <c>bearer-token</c> attribute, Bazel's <c>--remote_header</c>, gRPC's
/// <c>authorization</c> metadata) or HTTP basic credentials whose password (or, with no password,
/// user name) is the token (<c>http://user:TOKEN@node:3633/bazel</c>, likewise for ccache). Missing or
/// unknown credentials answer 401 (gRPC: UNAUTHENTICATED), a role too low 403 (PERMISSION_DENIED);
/// both go to the audit log.
/// </summary>
internal static class HttpAccessControl
{
    /// <summary>Installs the middleware and the admin route <c>GET /api/tokens</c>.</summary>
    public static void Use(WebApplication app)
    {
        var authenticator = app.Services.GetRequiredService<NodeAuthenticator>();
        var audit = app.Services.GetRequiredService<AuditLog>();
        var listeners = app.Services.GetRequiredService<NodeListeners>();
        app.Use((context, next) =>
        {
            var grpc = listeners.Grpc?.IPEndPoint is { } endPoint && context.Connection.LocalPort == endPoint.Port;
            if (!grpc && IsPublic(context.Request))
            {
                return next(context);
            }

            var needed = Needed(context.Request.Method, context.Request.Path.Value ?? "/", grpc);
            var authentication = authenticator.Authenticate(Token(context.Request), null, context.Connection.RemoteIpAddress);
            if (authentication.Identity is { } identity)
            {
                if (identity.Has(needed))
                {
                    context.Items[typeof(Identity)] = identity;
                    return next(context);
                }

                return RefuseAsync(context, audit, grpc, identity, StatusCodes.Status403Forbidden,
                    $"'{identity.Name}' ({identity.Id}) has role {NodeAuthenticator.RoleName(identity.Role)}; this request needs {NodeAuthenticator.RoleName(needed)}");
            }

            return RefuseAsync(context, audit, grpc, null, StatusCodes.Status401Unauthorized, authentication.Refusal!);
        });

        app.MapGet("/api/tokens", (NodeAuthenticator nodeAuthenticator) =>
            Results.Json(nodeAuthenticator.Tokens.List().Select(i => new TokenListing(i.Id, i.Name, NodeAuthenticator.RoleName(i.Role))).ToList(),
                SecurityJsonContext.Default.ListTokenListing));
    }

    /// <summary>
    /// Requests anyone may make: reading the node list, which every node announces over multicast DNS
    /// anyway, and which a client without multicast asks a seed for before it has credentials.
    /// </summary>
    public static bool IsPublic(HttpRequest request) =>
        (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && request.Path.Value == "/api/nodes";

    /// <summary>The role a request needs: cache reads need read, cache writes write; <c>/api/tokens</c> and any change under <c>/api/</c> need admin.</summary>
    public static Role Needed(string method, string path, bool grpc)
    {
        var read = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (grpc)
        {
            return path.EndsWith("/UpdateActionResult", StringComparison.Ordinal)
                || path.EndsWith("/BatchUpdateBlobs", StringComparison.Ordinal)
                || path.EndsWith("/Write", StringComparison.Ordinal)
                || path.EndsWith("/QueryWriteStatus", StringComparison.Ordinal)
                ? Role.Write
                : Role.Read;
        }

        if (path.StartsWith("/ccache/", StringComparison.Ordinal) || path.StartsWith("/bazel/", StringComparison.Ordinal))
        {
            return read ? Role.Read : Role.Write;
        }

        if (path.StartsWith("/api/tokens", StringComparison.Ordinal))
        {
            return Role.Admin;
        }

        return read ? Role.Read : Role.Admin;
    }

    /// <summary>The token a request carries (bearer, or basic credentials), or null.</summary>
    public static string? Token(HttpRequest request) => TokenOf(request.Headers.Authorization.ToString());

    /// <summary>The token an <c>Authorization</c> header value carries (bearer, or basic credentials), or null.</summary>
    public static string? TokenOf(string header)
    {
        if (header.Length == 0 || !AuthenticationHeaderValue.TryParse(header, out var value) || value.Parameter is null)
        {
            return null;
        }

        if (value.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return value.Parameter;
        }

        if (!value.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value.Parameter));
        }
        catch (FormatException)
        {
            return null;
        }

        // user:TOKEN, as Bazel and ccache send credentials from the URL; a bare TOKEN: works too.
        var colon = decoded.IndexOf(':');
        return colon < 0 ? decoded : colon == decoded.Length - 1 ? decoded[..colon] : decoded[(colon + 1)..];
    }

    private static Task RefuseAsync(HttpContext context, AuditLog audit, bool grpc, Identity? identity, int status, string reason)
    {
        var request = context.Request;
        var address = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        audit.Record(new AuditEvent(grpc ? "grpc" : "http", $"{request.Method} {request.Path}", AuditEvent.Refused, identity, address, reason));
        if (grpc)
        {
            // A trailers-only gRPC answer: HTTP 200 with the status in the headers, as gRPC clients expect.
            var code = status == StatusCodes.Status401Unauthorized ? GrpcStatusCode.Unauthenticated : GrpcStatusCode.PermissionDenied;
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = Uri.EscapeDataString(reason);
            return Task.CompletedTask;
        }

        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"kiln\", Basic realm=\"kiln\"";
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(reason + "\n", context.RequestAborted);
    }
}
