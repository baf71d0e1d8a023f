using Kiln.Core.Hosts;

namespace Kiln.Tests.Hosts;

public sealed class HostListParserTests
{
    [Fact]
    public void ParsesEveryDistccForm()
    {
        var list = HostListParser.Parse("localhost/3 node1 node2:4000/8,lzo # comment\n @build1/6 [::1]:3632 old/5:3700 --randomize +zeroconf n3,cpp,lzo");
        Assert.Empty(list.Errors);
        Assert.True(list.Randomize);
        var h = list.Hosts;
        Assert.Equal(HostKind.Local, h[0].Kind);
        Assert.Equal(3, h[0].Limit);
        Assert.Equal(("node1", 3635, HostProtocol.Kiln, 4), (h[1].Host, h[1].EffectivePort, h[1].Protocol, h[1].Limit));
        Assert.Equal(("node2", 4000, 8, true, HostProtocol.Distcc, 2), (h[2].Host, h[2].Port, h[2].Limit, h[2].Lzo, h[2].Protocol, h[2].DistccVersion));
        Assert.Equal((HostKind.Ssh, "build1", 6), (h[3].Kind, h[3].Host, h[3].Limit));
        Assert.Equal(("::1", 3632, HostProtocol.Distcc), (h[4].Host, h[4].Port, h[4].Protocol));
        Assert.Equal(("old", 3700, 5), (h[5].Host, h[5].Port, h[5].Limit));
        Assert.Equal(HostKind.Zeroconf, h[6].Kind);
        Assert.Equal(3, h[7].DistccVersion);
    }

    [Theory]
    [InlineData("host,cpp")]
    [InlineData("host:99999")]
    [InlineData("host/0")]
    [InlineData("host,bogus")]
    [InlineData("[::1")]
    public void BadWordsAreReportedWithTheirText(string word)
    {
        var list = HostListParser.Parse(word);
        Assert.Empty(list.Hosts);
        var error = Assert.Single(list.Errors);
        Assert.StartsWith($"'{word}'", error);
    }

    [Fact]
    public void TagsFilterHosts()
    {
        var h = Assert.Single(HostListParser.Parse("n1,arch=aarch64,os=linux").Hosts);
        Assert.Equal("aarch64", h.Tags["arch"]);
        Assert.Equal("linux", h.Tags["os"]);
    }
}
