namespace Kiln.Server.Accounting;

/// <summary>The default before trust lands: no attestations, so nothing is contested.</summary>
public sealed class NoContestedActions : IContestedActions
{
    /// <inheritdoc/>
    public IReadOnlyList<ContestedAction> List(int limit) => [];
}
