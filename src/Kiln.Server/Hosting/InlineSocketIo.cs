namespace Kiln.Server.Hosting;

/// <summary>
/// Whether the node (and <c>kiln agent</c>, whose splices only copy and await) runs socket completions,
/// and the code they resume, on the runtime's socket event threads instead of handing each to the
/// thread pool. A small cache GET then costs no thread switch between the readiness of its socket and
/// its answer: per request, the pooled way took an event thread, a pool thread and Kestrel's I/O
/// queue, and on a two-core machine those switches were a quarter of the node's time (perf;
/// docs/benchmarks.md, "Small blobs").
/// <para>
/// The price is that code run from a socket's completion must not block: it holds up every other
/// socket on the same event thread. The node's handlers await their I/O; what they do in between
/// (an SQLite lookup, a hash, starting a process) is short.
/// </para>
/// <para>
/// The runtime reads <see cref="Variable"/> once, when the first socket registers with its event
/// threads, so <see cref="PreferForThisProcess"/> must run before any socket is used. An operator's
/// own setting of the variable is kept: <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 kiln serve</c>
/// runs the pooled way.
/// </para>
/// </summary>
public static class InlineSocketIo
{
    /// <summary>The runtime's switch (System.Net.Sockets on Unix): "1" runs completions inline.</summary>
    public const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>True when this process's socket completions run inline (the variable is "1", as the runtime reads it).</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>Turns inline completions on for this process unless the variable is set already; call before any socket is used.</summary>
    public static void PreferForThisProcess()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }
}
