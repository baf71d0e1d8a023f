namespace Kiln.Cli.LocalCache;

/// <summary>What the local cache holds for one ActionKey: a successful compile's object and its output streams.</summary>
internal sealed record CachedCompile(ReadOnlyMemory<byte> Object, ReadOnlyMemory<byte> Stdout, ReadOnlyMemory<byte> Stderr);
