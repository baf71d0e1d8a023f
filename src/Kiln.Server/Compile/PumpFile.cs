namespace Kiln.Server.Compile;

/// <summary>
/// One file of a distcc pump-mode request: the client's absolute path and either its contents
/// (<c>FILE</c>) or a symbolic link target (<c>LINK</c>).
/// </summary>
/// <param name="Name">The absolute path on the client.</param>
/// <param name="Content">The file's bytes, or null for a link.</param>
/// <param name="LinkTarget">The link target as the client read it, or null for a file.</param>
public sealed record PumpFile(string Name, byte[]? Content, string? LinkTarget)
{
    /// <summary>True when this entry is a symbolic link.</summary>
    public bool IsLink => LinkTarget is not null;
}
