using Kiln.Tests.TestKit;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// The local reference: the objects a plain <c>make -j2</c> with the machine's gcc builds from a fresh
/// uClibc-ng tree. Built at most once per test run; tests that build through Kiln (or distcc) compare
/// their objects against it with <see cref="ObjectDigests.AssertIdenticalTo"/>. The digests are also
/// written in sha256sum's format to <c>reference/uclibc-ng-1.0.35.gcc.sha256</c> under the workloads
/// directory.
/// </summary>
public static class LocalReference
{
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private static ObjectDigests? s_uclibc;

    /// <summary>Where the uClibc-ng reference digests are written, in sha256sum's format.</summary>
    public static string UclibcSha256SumsPath => Path.Combine(
        Environment.GetEnvironmentVariable("KILN_WORKLOADS_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Tools.RepositoryRoot, "artifacts", "workloads"),
        "reference",
        "uclibc-ng-1.0.35.gcc.sha256");

    /// <summary>The uClibc-ng reference objects, building them on first use (about a minute on 2 idle cores).</summary>
    public static async Task<ObjectDigests> UclibcAsync(CancellationToken cancellationToken)
    {
        await s_gate.WaitAsync(cancellationToken);
        try
        {
            if (s_uclibc is null)
            {
                using var work = new TempDirectory("kiln-uclibc-reference");
                var tree = await Workloads.FreshUclibcAsync(work.Combine("uclibc"));
                await Workloads.MakeAsync(tree, jobs: 2, environment: new Dictionary<string, string?>
                {
                    // A plain build: nothing from the caller's environment routes compiles elsewhere.
                    ["CC"] = null,
                    ["MAKEFLAGS"] = null,
                    ["DISTCC_HOSTS"] = null,
                    ["KILN_HOSTS"] = null,
                });
                var objects = await ObjectDigests.CaptureAsync(tree, cancellationToken);
                await objects.WriteSha256SumsAsync(UclibcSha256SumsPath, cancellationToken);
                s_uclibc = objects;
            }

            return s_uclibc;
        }
        finally
        {
            s_gate.Release();
        }
    }
}
