using Kiln.Core.Compile;

namespace Kiln.Tests.Compile;

public sealed class CompileCommandTests
{
    private static CompileCommand Parse(params string[] args) => CompileCommand.Parse("gcc", args);

    [Fact]
    public void CompileOfOneSourceIsDistributable()
    {
        var c = Parse("-O2", "-Iinclude", "-DX=1", "-c", "src/a.c", "-o", "obj/a.o");
        Assert.True(c.IsDistributable, c.LocalReason);
        Assert.Equal("src/a.c", c.Source);
        Assert.Equal("obj/a.o", c.Output);
        Assert.Equal(SourceLanguage.C, c.Language);
        Assert.Equal(["-O2"], c.RemoteArguments());
    }

    [Theory]
    [InlineData("link", "a.c", "-o", "a")]
    [InlineData("-E", "-c", "a.c", "-E")]
    [InlineData("two sources", "-c", "a.c", "b.c")]
    [InlineData("-M", "-c", "a.c", "-M")]
    [InlineData("native", "-c", "a.c", "-march=native")]
    [InlineData("save-temps", "-c", "a.c", "-save-temps")]
    [InlineData("plugin", "-c", "a.c", "-fplugin=evil.so")]
    [InlineData("response file", "-c", "a.c", "@opts")]
    [InlineData("assembler", "-c", "a.s")]
    [InlineData("conftest", "-c", "conftest.c")]
    [InlineData("stdout", "-c", "a.c", "-o", "-")]
    [InlineData("coverage", "-c", "a.c", "--coverage")]
    public void LocalOnlyCompilesSayWhy(string label, params string[] args)
    {
        var c = Parse(args);
        Assert.False(c.IsDistributable, label);
        Assert.False(string.IsNullOrEmpty(c.LocalReason));
    }

    [Fact]
    public void ValueOfIncludeIsNotTakenForASource()
    {
        var c = Parse("-include", "config.h", "-isystem", "sys", "-c", "a.cc");
        Assert.True(c.IsDistributable, c.LocalReason);
        Assert.Equal("a.cc", c.Source);
        Assert.Equal(SourceLanguage.Cxx, c.Language);
        Assert.Equal("a.o", c.Output);
        Assert.Empty(c.RemoteArguments());
    }

    [Fact]
    public void DependencyFileFollowsGccDriverRules()
    {
        var c = Parse("-MD", "-c", "src/a.c", "-o", "obj/a.o");
        Assert.Equal("obj/a.d", c.DependencyFile);
        Assert.Equal(["-MD", "src/a.c", "-E", "-MF", "obj/a.d", "-MQ", "obj/a.o"], c.PreprocessArguments());

        var explicitTarget = Parse("-MMD", "-MF", "deps/a.dep", "-MT", "tgt", "-c", "a.c", "-o", "a.o");
        Assert.Equal("deps/a.dep", explicitTarget.DependencyFile);
        Assert.Equal(["-MMD", "-MF", "deps/a.dep", "-MT", "tgt", "a.c", "-E"], explicitTarget.PreprocessArguments());

        var noOutput = Parse("-MD", "-c", "src/a.c");
        Assert.Equal("a.d", noOutput.DependencyFile);
    }

    [Fact]
    public void RemoteArgumentsDropPreprocessorAndLinkerOptions()
    {
        var c = Parse("-Wall", "-Wp,-MD,x.d", "-Wl,--as-needed", "-D", "A", "-UB", "-I", "inc", "-nostdinc", "-isystem", "/x",
            "-include", "h.h", "-g", "-c", "a.c", "-o", "a.o", "-fPIC", "-x", "c");
        Assert.True(c.IsDistributable, c.LocalReason);
        Assert.Equal(["-Wall", "-g", "-fPIC"], c.RemoteArguments());
    }

    [Fact]
    public void MqNamesTheTargetSoNoOutputTargetIsAdded()
    {
        // gcc's driver adds "-MQ <output>" only when neither -MT nor -MQ is given.
        var quoted = Parse("-MD", "-MQ", "q", "-c", "a.c", "-o", "obj/a.o");
        Assert.True(quoted.HasTargetOption);
        Assert.Equal(["-MD", "-MQ", "q", "a.c", "-E", "-MF", "obj/a.d"], quoted.PreprocessArguments());

        var joined = Parse("-MMD", "-MQq", "-c", "a.c", "-o", "obj/a.o");
        Assert.True(joined.HasTargetOption);
        Assert.DoesNotContain("obj/a.o", joined.PreprocessArguments());
    }
}
