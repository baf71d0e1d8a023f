using Kiln.Server.Compile;

namespace Kiln.Server.Hosting;

/// <summary>The compile executor a node's options describe; one place for the listeners and <c>kiln serve --stdio</c>.</summary>
internal static class NodeExecutor
{
    /// <summary>
    /// The executor; <paramref name="warmSandboxes"/> is false for a session that lives as long as one
    /// client's connection (<c>--stdio</c>), which would start sandboxes it rarely uses.
    /// </summary>
    public static CompileExecutor Create(KilnNodeOptions options, NodeCounters counters, bool warmSandboxes = true)
    {
        var executorOptions = new CompileExecutorOptions
        {
            Slots = options.Slots,
            JobRoot = Path.Combine(options.DataDirectory, "jobs"),
            Admission = options.Admission,
            Nice = options.Nice,
            Limits = options.Jobs,
            MaxOutputBytes = options.Jobs.OutputBytes,
            WarmSandboxes = warmSandboxes && options.WarmSandboxes,
        };
        if (options.CompilerDirectories.Count > 0)
        {
            executorOptions.CompilerDirectories = [.. options.CompilerDirectories];
        }

        return new CompileExecutor(executorOptions, counters);
    }
}
