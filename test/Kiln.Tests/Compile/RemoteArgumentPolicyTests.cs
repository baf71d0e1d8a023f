using Kiln.Core.Compile;

namespace Kiln.Tests.Compile;

/// <summary>What a node runs and refuses among the arguments a client sends, and the words of each refusal.</summary>
public sealed class RemoteArgumentPolicyTests
{
    [Theory]
    [InlineData("--param", "max-inline-insns-single=1000")]
    [InlineData("--param", "l1-cache-size=32")]
    [InlineData("-D", "NDEBUG")]
    [InlineData("-U", "_FORTIFY_SOURCE")]
    [InlineData("-target", "x86_64-linux-gnu")]
    [InlineData("-MT", "out/obj.o")]
    [InlineData("-x", "c")]
    [InlineData("-Xassembler", "--noexecstack")]
    [InlineData("-O2", "-Wa,--noexecstack")]
    [InlineData("-g", "-fdebug-types-section")]
    public void Options_with_harmless_values_run(string option, string value) =>
        Assert.Null(RemoteArgumentPolicy.Check(["-O2", option, value, "-Wall"]));

    [Theory]
    [InlineData(new[] { "-o", "/etc/cron.d/evil" }, "argument '-o /etc/cron.d/evil' refused: the output path is outside the job's directory; the node names the outputs")]
    [InlineData(new[] { "-o/tmp/x.o" }, "argument '-o/tmp/x.o' refused: the output path is outside the job's directory; the node names the outputs")]
    [InlineData(new[] { "--output=../x.o" }, "argument '--output=../x.o' refused: the output path is outside the job's directory; the node names the outputs")]
    [InlineData(new[] { "-MF", "sub/../../x.d" }, "argument '-MF sub/../../x.d' refused: the output path is outside the job's directory; the node names the outputs")]
    [InlineData(new[] { "-o", "x.o" }, "argument '-o x.o' refused: the node names the outputs and hands them back")]
    [InlineData(new[] { "-fplugin=./evil.so" }, "argument '-fplugin=./evil.so' refused: plugins load code into the compiler")]
    [InlineData(new[] { "-specs=evil" }, "argument '-specs=evil' refused: specs files can run other programs")]
    [InlineData(new[] { "-B", "/tmp" }, "argument '-B' refused: it chooses which programs the compiler runs")]
    [InlineData(new[] { "-wrapper", "sh" }, "argument '-wrapper' refused: it chooses which programs the compiler runs")]
    [InlineData(new[] { "--gcc-toolchain=/tmp" }, "argument '--gcc-toolchain=/tmp' refused: it chooses which programs the compiler runs")]
    [InlineData(new[] { "@args.rsp" }, "argument '@args.rsp' refused: response files are read from the node's disk")]
    [InlineData(new[] { "-Wa,-adhln=/tmp/listing" }, "argument '-Wa,-adhln=/tmp/listing' refused: '-adhln=/tmp/listing' makes the tool read or write a file of its choosing")]
    [InlineData(new[] { "-Xassembler", "-a=/tmp/l" }, "argument '-Xassembler -a=/tmp/l' refused: '-a=/tmp/l' makes the tool read or write a file of its choosing")]
    [InlineData(new[] { "-mllvm", "-load=/tmp/p.so" }, "argument '-mllvm -load=/tmp/p.so' refused: it passes options the node cannot check")]
    [InlineData(new[] { "main.c" }, "argument 'main.c' refused: input and output files are named by the node, not the client")]
    [InlineData(new[] { "-fsave-optimization-record=/tmp/r" }, "argument '-fsave-optimization-record=/tmp/r' refused: it writes files the node does not hand back")]
    public void Arguments_that_load_code_or_escape_are_refused_by_name(string[] arguments, string expected) =>
        Assert.Equal(expected, RemoteArgumentPolicy.Check(["-O2", .. arguments]));

    [Fact]
    public void A_value_option_at_the_end_is_checked_as_an_argument() =>
        Assert.Null(RemoteArgumentPolicy.Check(["-O2", "--param"]));
}
