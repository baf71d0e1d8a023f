using Kiln.Core.Actions;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Actions;

public sealed class CompilerIdentityProbeTests
{
    [Fact]
    public void GccAndGxxShareTargetButNotIdentity()
    {
        using var memo = new TempDirectory();
        var probe = new CompilerIdentityProbe(memo.Path);
        var gcc = probe.Probe("/usr/bin/gcc");
        var gxx = probe.Probe("/usr/bin/g++");
        Assert.NotNull(gcc);
        Assert.NotNull(gxx);
        Assert.Equal("x86_64-linux-gnu", gcc!.Target);
        Assert.Equal(gcc.Target, gxx!.Target);
        Assert.NotEqual(gcc.BinaryDigest, gxx.BinaryDigest);
    }

    [Fact]
    public void MemoGivesTheSameIdentityAndSurvivesCorruption()
    {
        using var memo = new TempDirectory();
        var first = new CompilerIdentityProbe(memo.Path).Probe("/usr/bin/gcc");
        var memoFile = Assert.Single(Directory.GetFiles(memo.Path));
        Assert.Equal(first, new CompilerIdentityProbe(memo.Path).Probe("/usr/bin/gcc"));

        File.WriteAllText(memoFile, "not a memo");
        Assert.Equal(first, new CompilerIdentityProbe(memo.Path).Probe("/usr/bin/gcc"));
    }

    [Fact]
    public void MissingCompilerHasNoIdentity()
    {
        Assert.Null(new CompilerIdentityProbe(null).Probe("/nonexistent/gcc"));
    }
}
