using Kiln.Server.Cache;

namespace Kiln.Tests.Cache;

public sealed class BazelPathParserTests
{
    private const string Hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Theory]
    [InlineData("ac/" + Hash, BazelCacheKind.ActionCache, "")]
    [InlineData("cas/" + Hash, BazelCacheKind.ContentStore, "")]
    [InlineData("main/ac/" + Hash, BazelCacheKind.ActionCache, "main")]
    [InlineData("team/x86_64-linux/cas/" + Hash, BazelCacheKind.ContentStore, "team/x86_64-linux")]
    [InlineData("cas/ac/" + Hash, BazelCacheKind.ActionCache, "cas")]
    [InlineData("/ac/" + Hash, BazelCacheKind.ActionCache, "")] // a cache URL with a trailing slash
    [InlineData("x//cas/" + Hash, BazelCacheKind.ContentStore, "x/")]
    public void Accepts_ac_and_cas_with_an_optional_instance_prefix(string path, BazelCacheKind kind, string instance)
    {
        Assert.True(BazelPathParser.TryParse(path, out var parsed, out var error), error);
        Assert.Equal(kind, parsed.Kind);
        Assert.Equal(Hash, parsed.Hex);
        Assert.Equal(instance, parsed.Instance);
    }

    [Theory]
    [InlineData("")]
    [InlineData(Hash)]
    [InlineData("ac")]
    [InlineData("ac/")]
    [InlineData("../ac/" + Hash)]
    [InlineData("a/./ac/" + Hash)]
    [InlineData("a%2Fb/ac/" + Hash)] // encoded slash stays encoded in the decoded path
    [InlineData("ac%2F" + Hash)]
    [InlineData("a b/ac/" + Hash)]
    [InlineData("acx/" + Hash)]
    [InlineData("AC/" + Hash)]
    [InlineData("ac/E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("ac/" + Hash + "0")]
    [InlineData("ac/" + Hash + "/")]
    [InlineData("cas/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g")]
    [InlineData("cas/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    public void Refuses_malformed_and_hostile_paths(string path)
    {
        Assert.False(BazelPathParser.TryParse(path, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Refuses_an_overlong_instance_prefix()
    {
        var path = string.Concat(Enumerable.Repeat("segment/", 100)) + "cas/" + Hash;
        Assert.False(BazelPathParser.TryParse(path, out _, out var error));
        Assert.Contains("too long", error);
    }
}
