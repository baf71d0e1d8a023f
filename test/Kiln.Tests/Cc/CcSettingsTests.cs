using Kiln.Cli.Cc;

namespace Kiln.Tests.Cc;

public sealed class CcSettingsTests
{
    private static CcSettings From(params (string Name, string Value)[] variables)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in variables)
        {
            map[name] = value;
        }

        return CcSettings.FromEnvironment(name => map.GetValueOrDefault(name), "/work");
    }

    [Fact]
    public void HostsComeFromKilnHostsThenDistccHostsThenTheLocalNode()
    {
        var both = From(("KILN_HOSTS", "a b"), ("DISTCC_HOSTS", "c"));
        Assert.Equal("a b", both.HostsText);
        Assert.Equal("KILN_HOSTS", both.HostsSource);

        var distcc = From(("DISTCC_HOSTS", "c/8"));
        Assert.Equal("c/8", distcc.HostsText);
        Assert.Equal("DISTCC_HOSTS", distcc.HostsSource);

        var none = From();
        Assert.Equal("127.0.0.1", none.HostsText);
        Assert.Equal(CcSettings.DefaultHosts, none.HostsText);
    }

    [Fact]
    public void StateDirectoryIsKilnDirThenXdgCacheThenHomeCache()
    {
        Assert.Equal("/k", From(("KILN_DIR", "/k"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")).StateDirectory);
        Assert.Equal("/x/kiln", From(("XDG_CACHE_HOME", "/x"), ("HOME", "/h")).StateDirectory);
        Assert.Equal("/h/.cache/kiln", From(("HOME", "/h")).StateDirectory);
    }

    [Fact]
    public void SwitchesAndBackoffPeriodAreRead()
    {
        var defaults = From();
        Assert.True(defaults.Fallback);
        Assert.False(defaults.Verbose);
        Assert.Equal(TimeSpan.FromSeconds(60), defaults.BackoffPeriod);

        var set = From(("KILN_FALLBACK", "0"), ("KILN_VERBOSE", "1"), ("KILN_BACKOFF_PERIOD", "0"), ("LANG", "de_DE.UTF-8"));
        Assert.False(set.Fallback);
        Assert.True(set.Verbose);
        Assert.Equal(TimeSpan.Zero, set.BackoffPeriod);
        Assert.Equal("de_DE.UTF-8", set.Locale["LANG"]);

        Assert.Equal(TimeSpan.FromSeconds(5), From(("KILN_BACKOFF_PERIOD", "5")).BackoffPeriod);
        Assert.Equal(TimeSpan.FromSeconds(60), From(("KILN_BACKOFF_PERIOD", "soon")).BackoffPeriod);
        Assert.False(From(("KILN_VERBOSE", "0")).Verbose);
    }
}
