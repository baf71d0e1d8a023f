using Kiln.Server.Cache;

namespace Kiln.Tests.Cache;

public sealed class CcachePathParserTests
{
    // A golden pair from ccache 4.7.5's own log ("Translated key … to Bazel layout ac/…").
    private const string OldSpelling = "3d78dsok0un8u1pif98nigpmqp2meqsks";
    private const string Hex40 = "3d786f31407ae8f07327a51794336d645676b94e";
    private const string Bazel64 = Hex40 + "3d786f31407ae8f07327a517";

    [Theory]
    [InlineData("3d/78dsok0un8u1pif98nigpmqp2meqsks", CcacheLayout.Subdirs)]
    [InlineData(OldSpelling, CcacheLayout.Flat)]
    [InlineData("ac/" + Bazel64, CcacheLayout.Bazel)]
    [InlineData("3d/786f31407ae8f07327a51794336d645676b94e", CcacheLayout.Subdirs)]
    [InlineData(Hex40, CcacheLayout.Flat)]
    public void Every_layout_and_spelling_of_one_key_maps_to_its_40_hex(string path, CcacheLayout layout)
    {
        Assert.True(CcachePathParser.TryParse(path, out var key, out var error), error);
        Assert.Equal(Hex40, key.Hex);
        Assert.Equal(layout, key.Layout);
    }

    [Fact]
    public void Random_keys_round_trip_through_both_spellings()
    {
        var random = new Random(4711);
        var bytes = new byte[20];
        for (var i = 0; i < 500; i++)
        {
            random.NextBytes(bytes);
            var hex = Convert.ToHexStringLower(bytes);
            var old = Convert.ToHexStringLower(bytes.AsSpan(0, 2)) + EncodeBase32Hex(bytes.AsSpan(2));
            Assert.Equal(33, old.Length);
            Assert.True(CcachePathParser.TryParse(old, out var a, out _), old);
            Assert.True(CcachePathParser.TryParse(old[..2] + "/" + old[2..], out var b, out _), old);
            Assert.True(CcachePathParser.TryParse("ac/" + hex + hex[..24], out var c, out _), hex);
            Assert.Equal(hex, a.Hex);
            Assert.Equal(hex, b.Hex);
            Assert.Equal(hex, c.Hex);
        }
    }

    [Theory]
    [InlineData("", "missing")]
    [InlineData("3d", "not a ccache key")]
    [InlineData("3d/", "not a ccache key")]
    [InlineData("3D78dsok0un8u1pif98nigpmqp2meqsks", "not a ccache key")] // uppercase hex
    [InlineData("3d78dsok0un8u1pif98nigpmqp2meqskw", "not a ccache key")] // w is outside base32hex
    [InlineData("3d78dsok0un8u1pif98nigpmqp2meqskt", "not a ccache key")] // pad bit set: not canonical
    [InlineData("3d78dsok0un8u1pif98nigpmqp2meqsk", "not a ccache key")] // 32 characters
    [InlineData("3d786f31407ae8f07327a51794336d645676b94", "not a ccache key")] // 39 hex
    [InlineData("3d786f31407ae8f07327a51794336d645676b94e0", "not a ccache key")] // 41 hex
    [InlineData("3d786f31407ae8f07327a51794336d645676b94g", "not a ccache key")]
    [InlineData("3d/78/dsok0un8u1pif98nigpmqp2meqsks", "not a ccache key")]
    [InlineData("3d%2F78dsok0un8u1pif98nigpmqp2meqsks", "not a ccache key")] // encoded slash
    [InlineData("../3d78dsok0un8u1pif98nigpmqp2meqsks", "not a ccache key")]
    [InlineData("3d/../78dsok0un8u1pif98nigpmqp2meqs", "not a ccache key")]
    [InlineData("..", "not a ccache key")]
    [InlineData("ac/" + Hex40 + "000000000000000000000000", "repeat")] // not ccache's padding
    [InlineData("ac/" + Hex40 + "3D786F31407AE8F07327A517", "64 lowercase hex")]
    [InlineData("ab/" + Hex40 + "3d786f31407ae8f07327a517", "not a ccache key")] // 64 hex under another prefix
    [InlineData("ac/" + Hex40, "not a ccache key")] // 40 hex under ac/ is neither subdirs nor bazel
    public void Hostile_or_malformed_paths_are_refused_with_a_reason(string path, string reason)
    {
        Assert.False(CcachePathParser.TryParse(path, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void An_overlong_path_is_refused_before_it_is_decoded()
    {
        Assert.False(CcachePathParser.TryParse(new string('a', 10_000), out _, out var error));
        Assert.Contains("too long", error);
    }

    // An independent encoder (RFC 4648 base32hex, lowercase, most significant bit first, no padding).
    private static string EncodeBase32Hex(ReadOnlySpan<byte> data)
    {
        const string alphabet = "0123456789abcdefghijklmnopqrstuv";
        var text = new System.Text.StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                text.Append(alphabet[(buffer >> bits) & 31]);
            }
        }

        if (bits > 0)
        {
            text.Append(alphabet[(buffer << (5 - bits)) & 31]);
        }

        return text.ToString();
    }
}
