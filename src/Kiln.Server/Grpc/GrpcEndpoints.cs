using Kiln.Core.Cas;
using Kiln.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Grpc;

/// <summary>
/// The Bazel Remote Execution API cache as gRPC methods on Kestrel routing: one POST route per
/// method path, served only on the gRPC listener (h2c). On that listener any other path answers
/// UNIMPLEMENTED, as a gRPC server does; on the other listeners the method paths do not exist.
/// </summary>
internal static class GrpcEndpoints
{
    /// <summary>Maps the methods when the node has a gRPC listener.</summary>
    public static void Map(WebApplication app)
    {
        var options = app.Services.GetRequiredService<KilnNodeOptions>();
        if (options.Grpc is null)
        {
            return;
        }

        var listeners = app.Services.GetRequiredService<NodeListeners>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Kiln.Server.Grpc");

        var store = app.Services.GetRequiredService<IContentStore>();
        var cas = new ContentStorageService(store);
        var actionCache = new ActionCacheService(
            store, app.Services.GetRequiredService<IActionCache>(), app.Services.GetService<Trust.IResultGate>(), app.Services.GetService<Trust.NodeTrust>());
        var byteStream = new ByteStreamService(store);

        app.Use(async (context, next) =>
        {
            var onGrpcListener = listeners.Grpc?.IPEndPoint is { } endPoint && context.Connection.LocalPort == endPoint.Port;
            var method = context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethod>();
            if (onGrpcListener && method is null)
            {
                var path = context.Request.Path.Value ?? "";
                await DispatchAsync(context, path, (_, _) => ValueTask.FromResult(
                    GrpcStatus.Of(GrpcStatusCode.Unimplemented, $"method '{path}' is not served here")), logger).ConfigureAwait(false);
                return;
            }

            if (!onGrpcListener && method is not null)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context).ConfigureAwait(false);
        });

        Route(app, CapabilitiesService.GetCapabilitiesPath, CapabilitiesService.GetCapabilitiesAsync, logger);
        Route(app, ActionCacheService.GetActionResultPath, (c, t) => actionCache.GetActionResultAsync(c, t), logger);
        Route(app, ActionCacheService.UpdateActionResultPath, (c, t) => actionCache.UpdateActionResultAsync(c, t), logger);
        Route(app, ContentStorageService.FindMissingBlobsPath, (c, t) => cas.FindMissingBlobsAsync(c, t), logger);
        Route(app, ContentStorageService.BatchUpdateBlobsPath, (c, t) => cas.BatchUpdateBlobsAsync(c, t), logger);
        Route(app, ContentStorageService.BatchReadBlobsPath, (c, t) => cas.BatchReadBlobsAsync(c, t), logger);
        Route(app, ByteStreamService.ReadPath, (c, t) => byteStream.ReadAsync(c, t), logger);
        Route(app, ByteStreamService.WritePath, (c, t) => byteStream.WriteAsync(c, t), logger);
        Route(app, ByteStreamService.QueryWriteStatusPath, (c, t) => byteStream.QueryWriteStatusAsync(c, t), logger);
    }

    private static void Route(WebApplication app, string path, Func<GrpcCall, CancellationToken, ValueTask<GrpcStatus>> method, ILogger logger) =>
        app.MapPost(path, (RequestDelegate)(context => DispatchAsync(context, path, method, logger)))
            .WithMetadata(new GrpcMethod(path))
            .WithDisplayName($"gRPC {path}");

    /// <summary>
    /// Runs one call: checks the content type, runs the method, and ends with its status. A bug in
    /// a method becomes INTERNAL for that call alone; a caller that went away ends the call quietly.
    /// </summary>
    private static async Task DispatchAsync(HttpContext context, string path, Func<GrpcCall, CancellationToken, ValueTask<GrpcStatus>> method, ILogger logger)
    {
        if (!GrpcCall.IsGrpcContentType(context.Request.ContentType))
        {
            // The gRPC spec's answer to a non-gRPC request: 415, so no HTTP client mistakes it for success.
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            context.Response.Headers["grpc-status"] = ((int)GrpcStatusCode.Internal).ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.Response.Headers["grpc-message"] = "content-type must be application/grpc";
            return;
        }

        // Message sizes are capped per message and Write streams by their digest, so the HTTP body
        // limit (meant for the HTTP front ends) does not apply to a gRPC stream.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = null;
        }

        var call = new GrpcCall(context);
        GrpcStatus status;
        try
        {
            status = await method(call, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            GrpcLog.CallFailed(logger, path, e);
            status = GrpcStatus.Of(GrpcStatusCode.Internal, $"internal error in {path}: {e.GetType().Name}");
        }

        if (!status.IsOk)
        {
            GrpcLog.CallEnded(logger, path, status.Code, status.Message);
        }

        call.Finish(status);
    }
}
