using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>A file the preprocessor read (as it named it in its line markers), and the digest of its content.</summary>
public readonly record struct IncludedFile(string Path, Digest Digest);
