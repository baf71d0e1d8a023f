using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// One direct-mode entry: the files the preprocessor read (as it named them) with their digests when
/// it read them, the compile's ActionKey, and the dependency file the preprocessor wrote, if any.
/// </summary>
internal sealed record ManifestEntry(IReadOnlyList<IncludedFile> Files, ActionKey Key, byte[]? DependencyFile);
