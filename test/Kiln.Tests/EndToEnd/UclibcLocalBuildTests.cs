namespace Kiln.Tests.EndToEnd;

/// <summary>The uClibc-ng workload itself: a plain local build, which is the reference for remote builds.</summary>
public sealed class UclibcLocalBuildTests
{
    /// <summary>
    /// Object files a defconfig build of uClibc-ng 1.0.35 leaves: 796 compiled from C (DESIGN.md's
    /// figure, and distccd's COMPILE_OK count for the same build) and 28 assembled, counted with this
    /// machine's gcc 12 and make -j2 by bench/workloads.sh verify.
    /// </summary>
    public const int ExpectedObjects = 824;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Plain_make_builds_every_object_and_records_the_reference()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);

        Assert.Equal(ExpectedObjects, reference.Count);
        Assert.All(reference.Objects, o => Assert.True(o.Value.Size > 0, $"{o.Key} is empty"));
        var recorded = await File.ReadAllLinesAsync(LocalReference.UclibcSha256SumsPath);
        Assert.Equal(ExpectedObjects, recorded.Length);
        Assert.Equal($"{reference.Objects["libc/stdio/printf.os"].Hex}  libc/stdio/printf.os", recorded.Single(l => l.EndsWith("  libc/stdio/printf.os", StringComparison.Ordinal)));
    }
}
