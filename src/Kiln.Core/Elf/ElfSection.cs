using Kiln.Core.Hashing;

namespace Kiln.Core.Elf;

/// <summary>One section of an ELF file: its name, type, size in the file and the digest of its bytes (empty for NOBITS).</summary>
public sealed record ElfSection(string Name, uint Type, long Size, Digest Contents);
