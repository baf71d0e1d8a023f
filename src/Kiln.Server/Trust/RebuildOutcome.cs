namespace Kiln.Server.Trust;

/// <summary>What checking one action by rebuilding it came to.</summary>
public enum RebuildOutcome
{
    /// <summary>Not in the sample this node checks.</summary>
    NotSampled,

    /// <summary>The action's encoding, its input or its compiler is not on this node.</summary>
    Unavailable,

    /// <summary>The node could not run the compile (busy, refused, failed to start).</summary>
    NotRun,

    /// <summary>Rebuilt; the result matches every result others attested.</summary>
    Agreed,

    /// <summary>Rebuilt; the result differs from one others attested: the action is contested.</summary>
    Disagreed,
}
