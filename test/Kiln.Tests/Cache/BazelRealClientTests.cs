using System.Text.RegularExpressions;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cache;

/// <summary>
/// The real Bazel (Debian's bazel-bootstrap 4.2.3) against a node's HTTP cache: a C++ library and
/// binary built with <c>--remote_cache</c>, the output base expunged, and built again: the second
/// build must take every action from the node. Bazel builds offline here with two local stand-ins
/// for <c>@rules_cc</c> and <c>@rules_java</c> (research/feasibility-bazel-netns.md §1).
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed partial class BazelRealClientTests
{
    [Fact]
    public async Task Second_build_after_expunge_is_all_remote_cache_hits()
    {
        Assert.True(Tools.Exists("bazel"), "bazel is not installed (apt-get install -y bazel-bootstrap)");
        await using var node = await TestNode.StartAsync();
        using var work = new TempDirectory("kiln-bazel");
        var workspace = WriteWorkspace(work);
        var outputRoot = work.Combine("output-root");
        var remote = $"http://127.0.0.1:{node.Node.HttpEndPoint!.Port}/bazel";
        var environment = new Dictionary<string, string?> { ["HOME"] = work.Path };

        // The server stops by itself 60 s after its last command even if this test dies before shutdown.
        string[] startup = [$"--output_user_root={outputRoot}", "--nohome_rc", "--max_idle_secs=60"];
        string[] build =
        [
            "build", "--nosandbox_debug", $"--remote_cache={remote}",
            "--override_repository=rules_cc=" + Path.Combine(work.Path, "third_party", "rules_cc"),
            "--override_repository=rules_java=" + Path.Combine(work.Path, "third_party", "rules_java"),
            "//...",
        ];
        try
        {
            var first = await Tools.RunAsync("bazel", [.. startup, .. build], workspace, environment, TimeSpan.FromMinutes(5));
            Assert.True(first.ExitCode == 0, first.Stderr);
            var executed = ExecutedActions(first.Stderr);
            Assert.True(executed >= 5, first.Stderr); // 4 compiles and a link at least
            Assert.DoesNotContain("Writing to Remote Cache", first.Stderr);
            var built = await File.ReadAllBytesAsync(Path.Combine(workspace, "bazel-bin", "app"));
            var firstRun = await Tools.RunAsync(Path.Combine(workspace, "bazel-bin", "app"), [], workspace);
            Assert.Equal("91\n", firstRun.Stdout); // c(a(b(-3)) - 197) = c(-3) = -6 + 97

            var clean = await Tools.RunAsync("bazel", [.. startup, "clean", "--expunge"], workspace, environment, TimeSpan.FromMinutes(2));
            Assert.True(clean.ExitCode == 0, clean.Stderr);

            var second = await Tools.RunAsync("bazel", [.. startup, .. build], workspace, environment, TimeSpan.FromMinutes(5));
            Assert.True(second.ExitCode == 0, second.Stderr);
            var hits = RemoteCacheHits().Match(second.Stderr);
            Assert.True(hits.Success, second.Stderr);
            Assert.Equal(executed, int.Parse(hits.Groups[1].Value));
            Assert.Equal(0, ExecutedActions(second.Stderr));
            Assert.DoesNotContain("Reading from Remote Cache", second.Stderr);

            Assert.Equal(built, await File.ReadAllBytesAsync(Path.Combine(workspace, "bazel-bin", "app")));
            var app = await Tools.RunAsync(Path.Combine(workspace, "bazel-bin", "app"), [], workspace);
            Assert.Equal(firstRun.Stdout, app.Stdout);
        }
        finally
        {
            await Tools.RunAsync("bazel", [.. startup, "shutdown"], workspace, environment, TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>Actions that ran (any strategy but "internal" and "remote cache hit") in "INFO: N processes: …".</summary>
    private static int ExecutedActions(string output)
    {
        var line = Processes().Match(output);
        Assert.True(line.Success, output);
        var total = 0;
        foreach (Match part in Strategy().Matches(line.Groups[1].Value))
        {
            var kind = part.Groups[2].Value.Trim();
            if (kind is not "internal" and not "remote cache hit")
            {
                total += int.Parse(part.Groups[1].Value);
            }
        }

        return total;
    }

    private static string WriteWorkspace(TempDirectory work)
    {
        work.Write("ws/WORKSPACE", "");
        work.Write("ws/BUILD", """
            cc_library(name = "lib", srcs = ["a.cc", "b.cc", "c.cc"], hdrs = ["lib.h"])
            cc_binary(name = "app", srcs = ["main.cc"], deps = [":lib"])
            """);
        work.Write("ws/lib.h", "int a(int);\nint b(int);\nint c(int);\n");
        work.Write("ws/a.cc", "#include \"lib.h\"\nint a(int x) { return x * 2; }\n");
        work.Write("ws/b.cc", "#include \"lib.h\"\nint b(int x) { return x + 100; }\n");
        work.Write("ws/c.cc", "#include \"lib.h\"\nint c(int x) { return a(x) + b(x); }\n");
        work.Write("ws/main.cc", "#include <cstdio>\n#include \"lib.h\"\nint main() { std::printf(\"%d\\n\", c(a(b(-3)) - 197)); return 0; }\n");

        // Stand-ins for @rules_cc and @rules_java that forward to Bazel's native rules.
        foreach (var stub in new[] { "rules_cc", "rules_java" })
        {
            work.Write($"third_party/{stub}/WORKSPACE", "");
            work.Write($"third_party/{stub}/BUILD", "");
        }

        work.Write("third_party/rules_cc/cc/BUILD", """
            package(default_visibility = ["//visibility:public"])
            exports_files(["defs.bzl"])
            alias(name = "toolchain_type", actual = "@bazel_tools//tools/cpp:toolchain_type")
            """);
        work.Write("third_party/rules_cc/cc/defs.bzl", Forwarders(
            "cc_binary", "cc_library", "cc_test", "cc_import", "cc_proto_library", "cc_toolchain", "cc_toolchain_suite",
            "fdo_profile", "fdo_prefetch_hints", "objc_library", "objc_import"));
        work.Write("third_party/rules_java/java/BUILD", """
            package(default_visibility = ["//visibility:public"])
            exports_files(["defs.bzl"])
            """);
        work.Write("third_party/rules_java/java/defs.bzl", Forwarders(
            "java_binary", "java_import", "java_library", "java_plugin", "java_test", "java_runtime", "java_toolchain",
            "java_proto_library", "java_lite_proto_library", "java_package_configuration"));
        return work.Combine("ws");
    }

    private static string Forwarders(params string[] rules) =>
        string.Concat(rules.Select(r => $"def {r}(**attrs): native.{r}(**attrs)\n"));

    [GeneratedRegex(@"INFO: \d+ processes?: ([^\n]*)")]
    private static partial Regex Processes();

    [GeneratedRegex(@"(\d+) ([a-z -]+)")]
    private static partial Regex Strategy();

    [GeneratedRegex(@"(\d+) remote cache hit")]
    private static partial Regex RemoteCacheHits();
}
