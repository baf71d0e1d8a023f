using Kiln.Core.Cas;
using Kiln.Server.Compile;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Hosting;

/// <summary>The node's HTTP routes.</summary>
internal static class NodeEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/api/stats", (KilnNodeOptions options, CompileExecutor executor, FileContentStore store) =>
            Results.Json(Status(options, executor, store), NodeJsonContext.Default.NodeStatus));
        _ = app.Services.GetRequiredService<NodeCounters>();
        // Opens the store (and recovers it after a crash) before any listener serves a request.
        _ = app.Services.GetRequiredService<FileContentStore>();
        Grpc.GrpcEndpoints.Map(app);
    }

    public static NodeStatus Status(KilnNodeOptions options, CompileExecutor executor, FileContentStore? store = null)
    {
        var c = executor.Counters;
        return new NodeStatus(
            options.NodeName, executor.Slots, executor.FreeSlots, c.Running, c.MaxRunning, c.CompilesOk, c.CompilesFailed,
            c.Refused, c.Busy, c.ProtocolErrors, c.KilnJobs, c.DistccJobs, c.BytesIn, c.BytesOut, store?.GetStatistics());
    }
}
