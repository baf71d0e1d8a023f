using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Kiln.Tests.TestKit;

/// <summary>
/// A node run as its own process (the kiln binary's <c>serve</c>) on 127.0.0.1 ports the OS picks, so
/// a test can kill it. Its bound endpoints are read from the lines it prints when ready.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TempDirectory _data;

    private NodeProcess(Process process, TempDirectory data)
    {
        _process = process;
        _data = data;
    }

    public IPEndPoint KilnEndPoint { get; private set; } = null!;

    /// <summary>The node's TLS certificate fingerprint, as 'kiln serve' printed it.</summary>
    public string Fingerprint { get; private set; } = "";

    public IPEndPoint HttpEndPoint { get; private set; } = null!;

    public IPEndPoint? DistccEndPoint { get; private set; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static Task<NodeProcess> StartAsync(int slots = 2, bool distcc = false, params string[] extra) =>
        StartAsync(new Dictionary<string, string?>(), slots, distcc, extra);

    /// <summary>Starts a node with <paramref name="environment"/> added to (or, for a null value, removed from) this process's environment.</summary>
    public static async Task<NodeProcess> StartAsync(IReadOnlyDictionary<string, string?> environment, int slots = 2, bool distcc = false, params string[] extra)
    {
        var data = new TempDirectory("kiln-node-process");
        var info = new ProcessStartInfo(Tools.KilnBinary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        string[] args = ["serve", "--data", data.Path, "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--slots", slots.ToString(System.Globalization.CultureInfo.InvariantCulture), "--name", "e2e-node"];
        foreach (var a in args.Concat(distcc ? ["--distcc", "127.0.0.1:0"] : []).Concat(extra))
        {
            info.ArgumentList.Add(a);
        }

        var node = new NodeProcess(Process.Start(info)!, data);
        node._process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        node._process.OutputDataReceived += (_, e) => node.Append(e.Data);
        node._process.BeginErrorReadLine();
        node._process.BeginOutputReadLine();
        await Wait.UntilAsync(() => node.HasExited || node.Output.Contains("ready:", StringComparison.Ordinal), "kiln serve to print ready");
        Assert.False(node.HasExited, "kiln serve exited at start:\n" + node.Output);
        foreach (var line in node.Output.Split('\n'))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2)
            {
                continue;
            }

            switch (words[0])
            {
                case "kiln":
                    if (words[1] == "protocol")
                    {
                        node.KilnEndPoint = IPEndPoint.Parse(words[2]);
                    }

                    break;
                case "fingerprint":
                    node.Fingerprint = words[1];
                    break;
                case "http":
                    node.HttpEndPoint = IPEndPoint.Parse(words[1].Replace("http://", "").TrimEnd('/'));
                    break;
                case "distcc":
                    node.DistccEndPoint = IPEndPoint.Parse(words[1]);
                    break;
            }
        }

        return node;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Append(line).Append('\n');
        }
    }

    /// <summary>A number from the node's <c>/api/stats</c>.</summary>
    public async Task<long> StatAsync(string name)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var doc = JsonDocument.Parse(await http.GetStringAsync($"http://{HttpEndPoint}/api/stats"));
        return doc.RootElement.GetProperty(name).GetInt64();
    }

    /// <summary>Kills the node at once (SIGKILL), as a crash or a pulled cable would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        _data.Dispose();
        return ValueTask.CompletedTask;
    }
}
