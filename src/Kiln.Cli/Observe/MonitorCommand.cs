using System.Globalization;

namespace Kiln.Cli.Observe;

/// <summary><c>kiln monitor</c>: a live terminal view of a node (and, on a collector, the cluster), redrawn each interval.</summary>
internal static class MonitorCommand
{
    private const string Help = """
        kiln monitor [--node HOST:PORT] [--interval SECONDS] [--count N]

        Redraws the node's running jobs and accounting every interval (default 1 s) until Ctrl-C, or
        N times with --count. Default node: 127.0.0.1:3633.

        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var node = NodeApi.DefaultNode;
        var interval = TimeSpan.FromSeconds(1);
        var count = int.MaxValue;
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
                case "--interval" when i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0.1 && s <= 3600:
                    interval = TimeSpan.FromSeconds(s);
                    i++;
                    break;
                case "--count" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0:
                    count = n;
                    i++;
                    break;
                default:
                    error.WriteLine($"kiln monitor: bad option '{args[i]}'. Run 'kiln monitor --help'.");
                    return 2;
            }
        }

        var terminal = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        var baseAddress = NodeApi.BaseAddress(node);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var timer = new PeriodicTimer(interval);
        var failures = 0;
        for (var frame = 0; frame < count; frame++)
        {
            if (frame > 0 && !await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            var (snapshot, problem) = await NodeApi.SnapshotAsync(http, baseAddress, cancellationToken).ConfigureAwait(false);
            var text = snapshot is null ? $"kiln monitor: node {node} did not answer: {problem}\n" : SnapshotText.Summary(snapshot, withRunning: true);
            failures = snapshot is null ? failures + 1 : 0;

            // On a terminal each frame replaces the last; into a pipe or file, frames follow each other.
            output.Write(terminal ? "\u001b[H\u001b[2J" + text : text + "\n");
            output.Flush();
        }

        return failures > 0 ? 1 : 0;
    }
}
