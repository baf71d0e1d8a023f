namespace Kiln.Server.Accounting;

/// <summary>An action with two or more results that builders disagree on.</summary>
/// <param name="ActionKey">The action's key in hex.</param>
/// <param name="ResultDigests">The differing result digests in hex.</param>
/// <param name="Signers">The key ids that signed any of them.</param>
public sealed record ContestedAction(string ActionKey, IReadOnlyList<string> ResultDigests, IReadOnlyList<string> Signers);
