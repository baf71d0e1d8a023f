using Kiln.Core.Discovery;

namespace Kiln.Server.Discovery;

/// <summary>
/// The Kiln nodes this node has found by browsing, and its own compiler facts once probed: what
/// <c>GET /api/nodes</c> tells a client that was given this node as a seed.
/// </summary>
public sealed class PeerDirectory
{
    private volatile IReadOnlyList<DiscoveredService> _peers = [];
    private volatile CompilerFacts? _compilers;

    /// <summary>The peers found by the latest browse.</summary>
    public IReadOnlyList<DiscoveredService> Peers => _peers;

    /// <summary>This node's compiler facts, or null before the first probe.</summary>
    public CompilerFacts? Compilers => _compilers;

    /// <summary>Replaces the peers with the latest browse result.</summary>
    public void Update(IReadOnlyList<DiscoveredService> peers) => _peers = peers;

    /// <summary>Records this node's compiler facts.</summary>
    public void SetCompilers(CompilerFacts compilers) => _compilers = compilers;
}
