namespace Kiln.Core.Security;

/// <summary>What a token or certificate may do on a node. Each role includes the ones before it.</summary>
public enum Role
{
    /// <summary>Read the cache (hits only).</summary>
    Read = 1,

    /// <summary>Read, and upload results and blobs (unverified until attested).</summary>
    Write = 2,

    /// <summary>Write, and run compiles on the node.</summary>
    Execute = 3,

    /// <summary>Everything, including tokens, trust and configuration.</summary>
    Admin = 4,
}
