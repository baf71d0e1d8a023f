using System.Text.RegularExpressions;
using Kiln.Tests.Ssh;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// uClibc-ng built through ssh mode: <c>KILN_HOSTS=@127.0.0.1/4</c> against a real OpenSSH server
/// started by the test, every C compile remote (<c>KILN_FALLBACK=0</c>), objects identical to a
/// plain local build, and the whole build on one shared ssh connection.
/// </summary>
public sealed partial class SshUclibcTests
{
    private const int DistributableCompiles = 796;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Kiln_cc_builds_uclibc_through_ssh_mode_with_identical_objects()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);
        using var work = new TempDirectory("kiln-e2e-ssh");
        await using var sshd = await OpenSshServer.StartAsync(work);
        var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
        var env = new Dictionary<string, string?>
        {
            ["CC"] = null,
            ["MAKEFLAGS"] = null,
            ["DISTCC_HOSTS"] = null,
            ["KILN_HOSTS"] = "@127.0.0.1/4",
            ["KILN_DIR"] = work.Combine("kd"),
            ["KILN_SSH"] = sshd.SshCommand,
            ["KILN_FALLBACK"] = "0",
            ["KILN_VERBOSE"] = "1",
        };
        try
        {
            var run = await Workloads.MakeAsync(tree, jobs: 4, [$"CC={Tools.KilnBinary} cc gcc"], env);

            var remote = RemoteLine().Matches(run.Stderr).Count;

            // A compile whose twin (same preprocessed input, same arguments) ran earlier in the build is

            // answered from the local cache: it is not compiled again anywhere, which is the point.

            var cached = Regex.Matches(run.Stderr, "^kiln: .* from the local cache", RegexOptions.Multiline).Count;

            Assert.True(remote + cached >= DistributableCompiles, $"{remote} compiles ran over ssh and {cached} came from the local cache; expected every one of the {DistributableCompiles} C compiles");

            Assert.DoesNotContain(" compiled locally", run.Stderr, StringComparison.Ordinal);
            (await ObjectDigests.CaptureAsync(tree, CancellationToken.None)).AssertIdenticalTo(reference, "kiln cc through ssh mode");

            // Connection sharing: a handful of connections (first compiles that race may each open one, and an idle master expires after 60 s), not one per compile.
            Assert.True(sshd.AcceptedConnections is >= 1 and <= 20, $"sshd accepted {sshd.AcceptedConnections} connections for {remote} compiles");
        }
        finally
        {
            await sshd.CloseSharedConnectionAsync(work.Combine("kd", "ssh"));
        }
    }

    [GeneratedRegex(@"^kiln: .* compiled on @127\.0\.0\.1", RegexOptions.Multiline)]
    private static partial Regex RemoteLine();
}
