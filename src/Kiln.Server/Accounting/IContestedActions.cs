namespace Kiln.Server.Accounting;

/// <summary>
/// The actions the node knows to be contested, for <c>/api/contested</c> and the dashboard. The trust
/// work registers its own; the default knows none.
/// </summary>
public interface IContestedActions
{
    /// <summary>The contested actions, at most <paramref name="limit"/>.</summary>
    IReadOnlyList<ContestedAction> List(int limit);
}
