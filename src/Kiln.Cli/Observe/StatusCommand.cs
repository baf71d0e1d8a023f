namespace Kiln.Cli.Observe;

/// <summary><c>kiln status [--node HOST:PORT]</c>: one node's summary; on a collector, the cluster's accounting too.</summary>
internal static class StatusCommand
{
    private const string Help = """
        kiln status [--node HOST:PORT]

        Prints a node's slots, load, running jobs and accounting totals by user and by node (on a
        collector node, the totals of every node that reports to it). Default node: 127.0.0.1:3633.

        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var node = NodeApi.DefaultNode;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    output.Write(Help);
                    return 0;
                case "--node" when i + 1 < args.Length:
                    node = args[++i];
                    break;
                default:
                    error.WriteLine($"kiln status: unknown option '{args[i]}'. Run 'kiln status --help'.");
                    return 2;
            }
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var (snapshot, problem) = await NodeApi.SnapshotAsync(http, NodeApi.BaseAddress(node), CancellationToken.None).ConfigureAwait(false);
        if (snapshot is null)
        {
            error.WriteLine($"kiln status: could not read node {node}: {problem}");
            return 1;
        }

        output.Write(SnapshotText.Summary(snapshot, withRunning: true));
        return 0;
    }
}
