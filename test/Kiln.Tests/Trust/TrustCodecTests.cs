using Kiln.Core.Actions;
using Kiln.Core.Elf;
using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Trust;

public sealed class TrustCodecTests
{
    [Fact]
    public void KilnEntriesAreNamedByTheirActionKeyAndOthersByNamespaceAndKey()
    {
        var action = ActionKey.FromEncoding("an action"u8);
        Assert.Equal(action, AttestationSubject.Of("kiln", action.Hex));

        // The same key text in two namespaces names two subjects, so a signature cannot cross front ends.
        var ccache = AttestationSubject.Of("ccache", action.Hex);
        var bazel = AttestationSubject.Of("bazel-ac", action.Hex);
        Assert.NotEqual(action, ccache);
        Assert.NotEqual(ccache, bazel);
        Assert.Equal(ActionKey.FromEncoding(new CanonicalWriter("kiln-entry-v1").String("ccache").String(action.Hex).ToArray()), ccache);
    }

    [Fact]
    public void PolicyFileReadsKAndKeysAndReportsBadLines()
    {
        var alice = TrustNodes.Key(1).PublicKey;
        var errors = new List<string>();
        var policy = PolicyFile.Parse($"# nodes we run\nk 2\nalice {alice} active\nnonsense\n", errors);
        Assert.Equal(2, policy.K);
        Assert.Equal("alice", policy.Keys.Find(alice.Id)!.Owner);
        Assert.Equal(["line 4: expected 'OWNER ed25519:BASE64 active|retired|revoked'"], errors);

        var again = PolicyFile.Parse(PolicyFile.Serialize(policy), errors = []);
        Assert.Empty(errors);
        Assert.Equal(2, again.K);

        _ = PolicyFile.Parse("k many\n", errors);
        Assert.Single(errors);
    }

    [Fact]
    public void CompileActionDecodesWhatItEncodes()
    {
        var action = new CompileAction(new CompilerIdentity(Digest.FromBytes("gcc"u8), "x86_64-linux-gnu", "12"),
            ["-O2", "-fPIC", "ünïcode"], Kiln.Core.Compile.SourceLanguage.PreprocessedCxx, Digest.FromBytes("input"u8), "de_DE.UTF-8");
        var decoded = CompileAction.Decode(action.Encode())!;
        Assert.Equal(action.Key, decoded.Key);
        Assert.Equal(action.Arguments, decoded.Arguments);
        Assert.Null(CompileAction.Decode(action.Encode()[..^1]));
        Assert.Null(CompileAction.Decode([.. action.Encode(), 0]));
        Assert.Null(CompileAction.Decode("garbage"u8));
    }

    [Fact]
    public async Task ElfReaderFindsTheSectionsReadelfListsAndTheOnesThatDiffer()
    {
        using var dir = new TempDirectory("kiln-elf");
        var source = Path.Combine(dir.Path, "a.c");
        await File.WriteAllTextAsync(source, "const char s[] = \"one\";\nint f(void) { return 1; }\n");
        Assert.Equal(0, (await Tools.RunAsync("gcc", ["-c", "-O2", source, "-o", Path.Combine(dir.Path, "one.o")])).ExitCode);
        await File.WriteAllTextAsync(source, "const char s[] = \"two\";\nint f(void) { return 1; }\n");
        Assert.Equal(0, (await Tools.RunAsync("gcc", ["-c", "-O2", source, "-o", Path.Combine(dir.Path, "two.o")])).ExitCode);

        var one = ElfReader.ReadSections(await File.ReadAllBytesAsync(Path.Combine(dir.Path, "one.o")))!;
        var two = ElfReader.ReadSections(await File.ReadAllBytesAsync(Path.Combine(dir.Path, "two.o")))!;
        var readelf = await Tools.RunAsync("readelf", ["-S", "-W", Path.Combine(dir.Path, "one.o")]);
        foreach (var section in one.Where(s => s.Name.Length > 0))
        {
            Assert.Contains(" " + section.Name + " ", readelf.Stdout, StringComparison.Ordinal);
        }

        Assert.Equal([".rodata (4 bytes, contents differ)"], ElfReader.DifferingSections(one, two));
        Assert.Empty(ElfReader.DifferingSections(one, one));

        // Hostile input: truncated and garbage files are not ELF, never an exception.
        var bytes = await File.ReadAllBytesAsync(Path.Combine(dir.Path, "one.o"));
        for (var cut = 0; cut < bytes.Length; cut += 97)
        {
            _ = ElfReader.ReadSections(bytes.AsSpan(0, cut));
        }

        Assert.Null(ElfReader.ReadSections(bytes.AsSpan(0, bytes.Length / 2)));
        Assert.Null(ElfReader.ReadSections(new Random(3).GetItems<byte>([0, 1, 2, 255], 4096)));
    }
}
