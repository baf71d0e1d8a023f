namespace Kiln.Server.Trust;

/// <summary>An action two or more results were attested for.</summary>
public sealed record ContestedAction(string Action, List<ContestedSide> Sides);
