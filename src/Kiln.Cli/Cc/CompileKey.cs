using Kiln.Core.Hashing;

namespace Kiln.Cli.Cc;

/// <summary>A compile's ActionKey (<see cref="ActionKey.None"/> when the compiler could not be identified) and the digest of its preprocessed input.</summary>
internal readonly record struct CompileKey(ActionKey Key, Digest Input);
