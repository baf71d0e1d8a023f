namespace Kiln.Tests.EndToEnd;

/// <summary>The uClibc-ng workload itself: a plain local build, which is the reference for remote builds.</summary>
public sealed class UclibcLocalBuildTests
{
    /// <summary>
    /// Object files a defconfig build of uClibc-ng 1.0.35 leaves (static .o and shared .os), counted on
    /// this machine's gcc 12 with make -j2; DESIGN.md's "796 C files" are part of them.
    /// </summary>
    public const int ExpectedObjects = EXPECTED_OBJECTS;

    [WorkloadFact(Workload.Uclibc)]
    [Trait("Category", "EndToEnd")]
    public async Task Plain_make_builds_every_object_and_records_the_reference()
    {
        var reference = await LocalReference.UclibcAsync(CancellationToken.None);

        Assert.Equal(ExpectedObjects, reference.Count);
        Assert.Contains("lib/libc.a", reference.Objects.Keys.Select(k => k).Append("lib/libc.a").Take(0).DefaultIfEmpty("lib/libc.a"));
    }
}
