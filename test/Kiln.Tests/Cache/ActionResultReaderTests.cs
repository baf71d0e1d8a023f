using Kiln.Core.Hashing;
using Kiln.Server.Cache;

namespace Kiln.Tests.Cache;

public sealed class ActionResultReaderTests
{
    private static readonly Digest Object = Digest.FromBytes("object code"u8);
    private static readonly Digest Tree = Digest.FromBytes("tree"u8);
    private static readonly Digest Stdout = Digest.FromBytes("warning: x\n"u8);
    private static readonly Digest Stderr = Digest.FromBytes("note: y\n"u8);

    [Fact]
    public void Lists_output_files_directory_trees_stdout_and_stderr()
    {
        var bytes = new ProtoWriter()
            .Message(2, new ProtoWriter().String(1, "bazel-out/k8-fastbuild/bin/_objs/lib/a.o").Message(2, ProtoWriter.Digest(Object)).Varint(4, 1))
            .Message(3, new ProtoWriter().String(1, "out/dir").Message(3, ProtoWriter.Digest(Tree)).Varint(4, 1))
            .Varint(4, 0)
            .Message(6, ProtoWriter.Digest(Stdout))
            .Message(8, ProtoWriter.Digest(Stderr))
            .Message(9, new ProtoWriter().String(1, "worker-1").Message(2, new ProtoWriter().Varint(1, 1700000000)))
            .ToArray();

        var references = new List<Digest>();
        Assert.True(ActionResultReader.TryReadReferences(bytes, references, out var error), error);
        Assert.Equal([Object, Tree, Stdout, Stderr], references);
    }

    [Fact]
    public void Skips_the_empty_blob_duplicates_and_unknown_fields()
    {
        var bytes = new ProtoWriter()
            .Message(2, new ProtoWriter().String(1, "a.o").Message(2, ProtoWriter.Digest(Object)))
            .Message(2, new ProtoWriter().String(1, "b.o").Message(2, ProtoWriter.Digest(Object)))
            .Message(2, new ProtoWriter().String(1, "empty").Message(2, ProtoWriter.Digest(Digest.Empty)))
            .Message(6, ProtoWriter.Digest(Digest.Empty))
            .Tag(99, 1).RawBytes(1, 2, 3, 4, 5, 6, 7, 8)
            .Tag(98, 5).RawBytes(1, 2, 3, 4)
            .Varint(5000, 12345)
            .ToArray();

        var references = new List<Digest>();
        Assert.True(ActionResultReader.TryReadReferences(bytes, references, out var error), error);
        Assert.Equal([Object], references);
    }

    [Fact]
    public void The_empty_message_is_a_valid_result_with_no_references()
    {
        var references = new List<Digest>();
        Assert.True(ActionResultReader.TryReadReferences([], references, out _));
        Assert.Empty(references);
    }

    public static TheoryData<byte[], string> Malformed => new()
    {
        { [0x12], "truncated varint" },
        { [0x12, 0x05, 0x0a], "past the end" },
        { [0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "longer than 10 bytes" },
        { [0x10, 0x01], "wire type 0" }, // output_files as a varint
        { [0x0b], "unsupported wire type 3" }, // a group
        { [0x00, 0x01], "field number" },
        { [0x21, 0x01, 0x02], "fixed-width" }, // field 4 as fixed64, cut short
        { new ProtoWriter().Message(6, new ProtoWriter().String(1, "not hex")).ToArray(), "Digest" },
        { new ProtoWriter().Message(6, new ProtoWriter().String(1, Object.Hex.ToUpperInvariant())).ToArray(), "Digest" },
        { new ProtoWriter().Message(6, new ProtoWriter().String(1, Object.Hex).Varint(2, ulong.MaxValue)).ToArray(), "Digest" },
        { new ProtoWriter().Message(2, new ProtoWriter().Message(2, new ProtoWriter().String(1, "ab"))).ToArray(), "field 2" },
        { new ProtoWriter().Message(3, new ProtoWriter().Varint(3, 7)).ToArray(), "want a Digest" },
        { "this is a ccache result, not a protobuf"u8.ToArray(), "" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_input_is_refused_with_a_reason(byte[] bytes, string reason)
    {
        Assert.False(ActionResultReader.TryReadReferences(bytes, [], out var error));
        Assert.Contains(reason, error);
        Assert.NotEqual("", error);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(1234);
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            var references = new List<Digest>();
            _ = ActionResultReader.TryReadReferences(bytes, references, out _);
        }
    }
}
