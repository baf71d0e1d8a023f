namespace Kiln.Core.Protocol;

/// <summary>An extra output of a job, beside the object file: a plain file name (no directory) and its bytes.</summary>
public sealed record KilnOutputFile(string Name, ReadOnlyMemory<byte> Content)
{
    /// <summary>The name under which a dependency file travels.</summary>
    public const string DependencyFileName = "dependency.d";

    /// <summary>True when a name is a plain file name a client can use without leaving its output directory.</summary>
    public static bool IsPlainName(string name) =>
        name.Length > 0 && name != "." && name != ".." && !name.Contains('/') && !name.Contains('\\');
}
