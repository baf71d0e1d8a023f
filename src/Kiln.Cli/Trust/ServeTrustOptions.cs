using System.Globalization;
using Kiln.Cli.Serve;
using Kiln.Server.Hosting;
using Kiln.Server.Trust;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Cli.Trust;

/// <summary>The trust options of <c>kiln serve</c>, and the lines it prints about the node's key at start.</summary>
internal static class ServeTrustOptions
{
    public static void Apply(TrustOptions trust, string option, string value)
    {
        switch (option)
        {
            case "--trust-k":
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var k))
                {
                    throw new UsageException($"--trust-k {value}: a count of owners, 0 or more");
                }

                trust.DefaultK = k;
                break;
            case "--peer":
                if (!Uri.TryCreate(value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value, UriKind.Absolute, out var peer)
                    || peer.Scheme is not ("http" or "https"))
                {
                    throw new UsageException($"--peer {value}: expected a node's HTTP address, e.g. http://node:3633");
                }

                trust.Peers.Add(peer);
                break;
            default:
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || rate is < 0 or > 1)
                {
                    throw new UsageException($"--rebuild-rate {value}: a share from 0 to 1");
                }

                trust.RebuildRate = rate;
                break;
        }
    }

    public static void Describe(KilnNode node, TextWriter output)
    {
        var trust = node.Services.GetRequiredService<NodeTrust>();
        var options = node.Options.Trust;
        output.WriteLine($"  node key       {trust.NodeKey.PublicKey.Id} ({trust.KeyFile}); others trust it with");
        output.WriteLine($"                 kiln trust add {node.Options.NodeName.Replace(' ', '-')} {trust.NodeKey.PublicKey}");
        output.WriteLine($"  trust          k={options.DefaultK} by default; policies: {string.Join(", ", trust.PolicyNames.Order(StringComparer.Ordinal))}"
            + (options.Peers.Count > 0 ? $"; peers: {string.Join(", ", options.Peers)}" : "")
            + (options.RebuildRate > 0 ? $"; rebuilding {options.RebuildRate:P0} of others' actions" : ""));
        foreach (var error in trust.Errors)
        {
            output.WriteLine($"  trust warning  {error} (line skipped)");
        }
    }
}
