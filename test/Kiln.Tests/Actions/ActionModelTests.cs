using System.Text;
using Kiln.Core.Actions;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Tests.Actions;

public sealed class ActionModelTests
{
    private static readonly CompilerIdentity s_gcc = new(Digest.FromBytes("gcc binary"u8), "x86_64-linux-gnu", "12");

    private static CompileAction Action(string[] args, string input = "int x;", string locale = "C") =>
        new(s_gcc, args, SourceLanguage.C, Digest.FromBytes(Encoding.UTF8.GetBytes(input)), locale);

    [Fact]
    public void KeyIsStableAndDecidedByEveryField()
    {
        var baseline = Action(["-O2"]).Key;
        Assert.Equal(baseline, Action(["-O2"]).Key);
        Assert.NotEqual(baseline, Action(["-O3"]).Key);
        Assert.NotEqual(baseline, Action(["-O2"], input: "int y;").Key);
        Assert.NotEqual(baseline, Action(["-O2"], locale: "de_DE.UTF-8").Key);
        Assert.NotEqual(baseline, (Action(["-O2"]) with { Compiler = s_gcc with { Version = "13" } }).Key);
        Assert.NotEqual(baseline, (Action(["-O2"]) with { Language = SourceLanguage.Cxx }).Key);
    }

    [Fact]
    public void ArgumentBoundariesAreUnambiguous()
    {
        // "-O2 -g" as one word and as two words must not collide.
        Assert.NotEqual(Action(["-O2 -g"]).Key, Action(["-O2", "-g"]).Key);
        Assert.NotEqual(Action(["", "-g"]).Key, Action(["-g", ""]).Key);
    }

    [Fact]
    public void EncodingHasAGoldenPrefix()
    {
        var bytes = Action(["-O2"]).Encode();
        var tag = CompileAction.EncodingTag;
        Assert.Equal([0, 0, 0, (byte)tag.Length], bytes[..4]);
        Assert.Equal(tag, Encoding.UTF8.GetString(bytes, 4, tag.Length));
    }

    [Fact]
    public void ResultDigestIgnoresOutputOrderAndRoundTrips()
    {
        var a = new OutputFile("a.o", Digest.FromBytes("obj"u8));
        var d = new OutputFile("a.d", Digest.FromBytes("dep"u8));
        var r1 = new ActionResult(0, Digest.Empty, Digest.FromBytes("warning"u8), [a, d]);
        var r2 = r1 with { Outputs = [d, a] };
        Assert.Equal(r1.ResultDigest, r2.ResultDigest);
        Assert.NotEqual(r1.ResultDigest, (r1 with { ExitCode = 1 }).ResultDigest);

        var decoded = ActionResult.Decode(r1.Encode());
        Assert.NotNull(decoded);
        Assert.Equal(r1.ResultDigest, decoded!.ResultDigest);
        Assert.Equal(4, decoded.References().Count);
    }

    [Fact]
    public void DecodeRejectsTruncatedAndTrailingBytes()
    {
        var bytes = new ActionResult(0, Digest.Empty, Digest.Empty, [new OutputFile("x.o", Digest.FromBytes("x"u8))]).Encode();
        for (var cut = 0; cut < bytes.Length; cut += 7)
        {
            Assert.Null(ActionResult.Decode(bytes.AsSpan(0, cut)));
        }

        Assert.Null(ActionResult.Decode([.. bytes, 0]));
        Assert.Null(ActionResult.Decode("garbage that is not a result"u8));
    }
}
