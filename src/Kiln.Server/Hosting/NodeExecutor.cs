using Kiln.Server.Compile;

namespace Kiln.Server.Hosting;

/// <summary>The compile executor a node's options describe; one place for the listeners and <c>kiln serve --stdio</c>.</summary>
internal static class NodeExecutor
{
    public static CompileExecutor Create(KilnNodeOptions options, NodeCounters counters) =>
        new(new CompileExecutorOptions
        {
            Slots = options.Slots,
            JobRoot = Path.Combine(options.DataDirectory, "jobs"),
            Limits = options.Jobs,
            MaxOutputBytes = options.Jobs.OutputBytes,
        }, counters);
}
