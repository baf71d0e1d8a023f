using Kiln.Core.Trust;

namespace Kiln.Server.Trust;

/// <summary>
/// The node's trust configuration: which keys it accepts attestations from, the named policies its
/// consumers choose from, the peers it exchanges attestations with, and how much it rebuilds.
/// </summary>
public sealed class TrustOptions
{
    /// <summary>
    /// The number of distinct owners that must agree for a consumer that names no policy (default 0:
    /// a plain cache, as before trust). With k above 0 the default policy's keys are the node's trust list.
    /// </summary>
    public int DefaultK { get; set; }

    /// <summary>The node's trust list file (<c>OWNER ed25519:KEY STATUS</c> lines); default DATA/trust.</summary>
    public string? TrustFile { get; set; }

    /// <summary>The folder of named policies (one file NAME.policy each); default DATA/policies.</summary>
    public string? PolicyDirectory { get; set; }

    /// <summary>Keys trusted besides those in <see cref="TrustFile"/> (tests and embedding hosts).</summary>
    public TrustStore ExtraKeys { get; } = new();

    /// <summary>Named policies besides those in <see cref="PolicyDirectory"/>.</summary>
    public Dictionary<string, TrustPolicy> Policies { get; } = new(StringComparer.Ordinal);

    /// <summary>Nodes this one pulls attestations from and pushes its own to (their HTTP base addresses).</summary>
    public List<Uri> Peers { get; } = [];

    /// <summary>How often attestations are exchanged with each peer.</summary>
    public TimeSpan ExchangeInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The share (0 to 1) of actions attested by others that this node re-executes to check; 0 is off,
    /// 1 rebuilds everything it has the inputs for.
    /// </summary>
    public double RebuildRate { get; set; }

    /// <summary>How often the rebuild checker looks for new actions to check.</summary>
    public TimeSpan RebuildInterval { get; set; } = TimeSpan.FromSeconds(10);
}
