using System.Text.RegularExpressions;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Grpc;

/// <summary>
/// Real Bazel (Debian's bazel-bootstrap 4.2.3) against the node's gRPC listener: a C++ library and
/// binary built with <c>--remote_cache=grpc://</c>, then, after <c>clean --expunge</c>, built
/// again with every action served from the cache.
/// </summary>
public sealed partial class BazelRemoteCacheTests
{
    [Fact]
    [Trait("Category", "EndToEnd")]
    public async Task SecondBuildAfterExpungeComesWhollyFromTheCache()
    {
        Assert.True(Tools.Exists("bazel"), "bazel is not installed (apt-get install -y bazel-bootstrap)");
        await using var node = await GrpcNode.StartAsync();
        using var workspace = new TempDirectory("kiln-bazel-ws");
        using var outputRoot = new TempDirectory("kiln-bazel-out");
        WriteWorkspace(workspace);

        var startup = $"--output_user_root={outputRoot.Path}";
        var remote = $"--remote_cache=grpc://127.0.0.1:{node.EndPoint.Port}";
        try
        {
            var first = await BazelAsync(workspace, startup, "build", "--nosandbox_debug", remote, "//...");
            var firstCounts = Processes(first);
            var actions = firstCounts.Where(kv => kv.Key != "internal").Sum(kv => kv.Value);
            Assert.True(actions >= 4, $"expected at least 4 real actions (compile a, b, main; link), got {actions}: {first.Stderr}");
            Assert.False(firstCounts.ContainsKey("remote cache hit"), "the first build found results in an empty cache");

            await BazelAsync(workspace, startup, "clean", "--expunge");
            var second = await BazelAsync(workspace, startup, "build", "--nosandbox_debug", remote, "//...");
            var secondCounts = Processes(second);
            Assert.True(
                secondCounts.GetValueOrDefault("remote cache hit") == actions,
                $"expected {actions} remote cache hits, got: {string.Join(", ", secondCounts.Select(kv => $"{kv.Value} {kv.Key}"))}");
            Assert.Equal(actions, secondCounts.Where(kv => kv.Key != "internal").Sum(kv => kv.Value));

            var app = await Tools.RunAsync(Path.Combine(workspace.Path, "bazel-bin", "app"), [], workspace.Path);
            Assert.Equal("42\n", app.Stdout);
        }
        finally
        {
            await Tools.RunAsync("bazel", [startup, "shutdown"], workspace.Path, timeout: TimeSpan.FromMinutes(1));
        }
    }

    private static async Task<Tools.Run> BazelAsync(TempDirectory workspace, params string[] args)
    {
        var run = await Tools.RunAsync("bazel", args, workspace.Path, timeout: TimeSpan.FromMinutes(6));
        Assert.True(run.ExitCode == 0, $"bazel {string.Join(' ', args)} exited {run.ExitCode}: {run.Stderr}");
        return run;
    }

    /// <summary>The "INFO: 12 processes: 6 remote cache hit, 6 internal." line as kind → count.</summary>
    private static Dictionary<string, int> Processes(Tools.Run run)
    {
        var line = ProcessesLine().Match(run.Stderr);
        Assert.True(line.Success, $"no process summary in bazel's output: {run.Stderr}");
        var counts = new Dictionary<string, int>();
        foreach (var part in line.Groups[1].Value.Split(", "))
        {
            var space = part.IndexOf(' ', StringComparison.Ordinal);
            counts[part[(space + 1)..]] = int.Parse(part[..space], System.Globalization.CultureInfo.InvariantCulture);
        }

        return counts;
    }

    [GeneratedRegex(@"INFO: \d+ processes: ([^.\n]+)\.")]
    private static partial Regex ProcessesLine();

    /// <summary>
    /// A C++ library and binary, plus the two local stand-ins for @rules_cc and @rules_java that
    /// Bazel 4.2.3 needs to build offline (research/feasibility-bazel-netns.md §1).
    /// </summary>
    private static void WriteWorkspace(TempDirectory ws)
    {
        ws.Write("WORKSPACE", """
            local_repository(name = "rules_cc", path = "third_party/rules_cc")
            local_repository(name = "rules_java", path = "third_party/rules_java")

            """);
        ws.Write(".bazelignore", "third_party\n");
        foreach (var stub in new[] { "rules_cc", "rules_java" })
        {
            ws.Write($"third_party/{stub}/WORKSPACE", "");
            ws.Write($"third_party/{stub}/BUILD", "");
        }

        ws.Write("third_party/rules_cc/cc/BUILD", """
            package(default_visibility = ["//visibility:public"])
            exports_files(["defs.bzl"])
            alias(name = "toolchain_type", actual = "@bazel_tools//tools/cpp:toolchain_type")

            """);
        ws.Write("third_party/rules_cc/cc/defs.bzl", Forwarders(
            "cc_binary", "cc_library", "cc_test", "cc_import", "cc_proto_library", "cc_toolchain",
            "cc_toolchain_suite", "fdo_profile", "fdo_prefetch_hints", "objc_library", "objc_import"));
        ws.Write("third_party/rules_java/java/BUILD", """
            package(default_visibility = ["//visibility:public"])
            exports_files(["defs.bzl"])

            """);
        ws.Write("third_party/rules_java/java/defs.bzl", Forwarders(
            "java_binary", "java_import", "java_library", "java_plugin", "java_test", "java_runtime",
            "java_toolchain", "java_proto_library", "java_lite_proto_library", "java_package_configuration"));

        ws.Write("BUILD", """
            cc_library(name = "lib", srcs = ["a.cc", "b.cc"], hdrs = ["lib.h"])
            cc_binary(name = "app", srcs = ["main.cc"], deps = [":lib"])

            """);
        ws.Write("lib.h", "int a();\nint b();\n");
        ws.Write("a.cc", "int a() { return 40; }\n");
        ws.Write("b.cc", "int b() { return 2; }\n");
        ws.Write("main.cc", """
            #include <cstdio>
            #include "lib.h"
            int main() { std::printf("%d\n", a() + b()); return 0; }

            """);
    }

    private static string Forwarders(params string[] rules) =>
        string.Concat(rules.Select(r => $"def {r}(**attrs): native.{r}(**attrs)\n"));
}
