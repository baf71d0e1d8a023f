using Kiln.Core.Compile;

namespace Kiln.Tests.CompileCache;

public sealed class BaseDirectoryRewriterTests
{
    [Fact]
    public void PathsUnderTheBaseBecomeRelativeToTheWorkingDirectory()
    {
        string[] args = ["-I/src/p/include", "-isystem", "/src/p/third/", "-iquote/usr/include", "-DX=/src/p", "-c", "/src/p/lib/a.c", "-o", "/src/p/lib/a.o", "-MF", "/src/p/lib/a.d"];
        var rewritten = BaseDirectoryRewriter.Rewrite(args, "/src/p", "/src/p/lib");
        Assert.Equal(["-I../include", "-isystem", "../third/", "-iquote/usr/include", "-DX=/src/p", "-c", "a.c", "-o", "/src/p/lib/a.o", "-MF", "/src/p/lib/a.d"], rewritten);
    }

    [Theory]
    [InlineData(null, "/src/p")]
    [InlineData("", "/src/p")]
    [InlineData("relative/base", "/src/p")]
    [InlineData("/src/p", "/elsewhere")]
    [InlineData("/src/p", "/src/pp")]
    public void NothingChangesOutsideTheBaseOrWithoutOne(string? baseDirectory, string workingDirectory)
    {
        string[] args = ["-I/src/p/include", "-c", "/src/p/a.c"];
        Assert.Same(args, BaseDirectoryRewriter.Rewrite(args, baseDirectory, workingDirectory));
    }

    [Fact]
    public void APrefixThatIsNotADirectoryBoundaryIsNotUnderTheBase()
    {
        Assert.False(BaseDirectoryRewriter.IsUnder("/src/pp/a.c", "/src/p"));
        Assert.True(BaseDirectoryRewriter.IsUnder("/src/p/a.c", "/src/p/"));
        Assert.True(BaseDirectoryRewriter.IsUnder("/src/p", "/src/p"));
    }
}
