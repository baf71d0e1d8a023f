using Kiln.Cli.Cc;
using Kiln.Core.Hosts;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Scheduling;

/// <summary>What a node's WELCOME words become, and what of them the facts file keeps.</summary>
public sealed class NodeFactsTests : IDisposable
{
    private readonly TempDirectory _work = new("kiln-node-facts");

    public void Dispose() => _work.Dispose();

    [Fact]
    public void Welcome_words_split_at_the_first_equals_and_words_without_a_key_are_dropped()
    {
        var attributes = NodeFacts.FromWords(["node=lh", "flags=a=b", "bare", "=nokey", "empty="]);
        Assert.Equal(
            [new("node", "lh"), new("flags", "a=b"), new("empty", "")],
            attributes);
    }

    [Fact]
    public void Written_facts_read_back_except_entries_that_would_break_the_line_format()
    {
        var host = new HostSpec { Text = "127.0.0.1:7010", Kind = HostKind.Tcp, Host = "127.0.0.1", Port = 7010 };
        NodeFacts.Write(_work.Path, host, [new("slots", "4"), new("", "x"), new("bad\nkey", "1"), new("note", "two\nlines"), new("free", "2")]);

        var facts = NodeFacts.Read(_work.Path, host, TimeSpan.FromSeconds(30))!;
        Assert.Equal(new Dictionary<string, string> { ["slots"] = "4", ["free"] = "2" }, facts.Attributes);

        // The same facts again leave the file as it was.
        var path = Directory.GetFiles(Path.Combine(_work.Path, "nodes")).Single();
        var before = File.ReadAllText(path);
        NodeFacts.Write(_work.Path, host, [new("slots", "4"), new("free", "2")]);
        Assert.Equal(before, File.ReadAllText(path));
        Assert.Equal("slots=4\nfree=2\n", before);
    }
}
