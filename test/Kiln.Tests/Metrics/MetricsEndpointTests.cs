using Kiln.Server.Metrics;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Metrics;

public sealed class MetricsEndpointTests
{
    [Fact]
    public void WriterEscapesLabelsAndDeclaresEachFamilyOnce()
    {
        var text = new PrometheusWriter()
            .Counter("x_total", "An x.", 1, ("node", "a\"b\\c\nd"))
            .Counter("x_total", "An x.", 2, ("node", "e"))
            .ToString();
        Assert.Equal(
            "# HELP x_total An x.\n# TYPE x_total counter\nx_total{node=\"a\\\"b\\\\c\\nd\"} 1\nx_total{node=\"e\"} 2\n",
            text);
    }

    [Fact]
    public async Task PromtoolAcceptsTheNodesMetrics()
    {
        await using var node = await TestNode.StartAsync();
        using var http = new HttpClient();
        var response = await http.GetAsync($"http://{node.Node.HttpEndPoint}/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("kiln_slots{node=\"test-node\"} 2", body);

        if (!Tools.Exists("promtool"))
        {
            Assert.Fail("promtool is not installed (Debian package prometheus); scripts/setup installs it");
        }

        var check = await RunWithStdinAsync("promtool", ["check", "metrics"], body);
        Assert.True(check.ExitCode == 0, $"promtool check metrics exited {check.ExitCode}: {check.Stderr}");
    }

    private static async Task<Tools.Run> RunWithStdinAsync(string program, string[] args, string stdin)
    {
        var info = new System.Diagnostics.ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new Tools.Run(process.ExitCode, stdout, stderr);
    }
}
