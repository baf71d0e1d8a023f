using System.Buffers.Binary;
using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Core.Elf;

/// <summary>
/// Reads the section table of an ELF object (32 or 64 bit, either byte order), enough to say which
/// sections of two builds of one object differ. Every offset is checked against the file's length:
/// a truncated or hostile file gives null, never an exception.
/// </summary>
public static class ElfReader
{
    private const uint NoBits = 8;

    /// <summary>The sections of <paramref name="file"/>, in table order, or null when it is not a well-formed ELF file.</summary>
    public static IReadOnlyList<ElfSection>? ReadSections(ReadOnlySpan<byte> file)
    {
        if (file.Length < 52 || file[0] != 0x7f || file[1] != (byte)'E' || file[2] != (byte)'L' || file[3] != (byte)'F')
        {
            return null;
        }

        var is64 = file[4] == 2;
        var little = file[5] == 1;
        if (file[4] is not (1 or 2) || file[5] is not (1 or 2) || (is64 && file.Length < 64))
        {
            return null;
        }

        var tableOffset = is64 ? U64(file, 0x28, little) : U32(file, 0x20, little);
        var entrySize = U16(file, is64 ? 0x3A : 0x2E, little);
        var count = U16(file, is64 ? 0x3C : 0x30, little);
        var namesIndex = U16(file, is64 ? 0x3E : 0x32, little);
        var minEntry = is64 ? 64 : 40;
        if (count == 0 || entrySize < minEntry || namesIndex >= count
            || tableOffset > (ulong)file.Length || (ulong)count * entrySize > (ulong)file.Length - tableOffset)
        {
            return null;
        }

        var headers = new (uint Name, uint Type, ulong Offset, ulong Size)[count];
        for (var i = 0; i < count; i++)
        {
            var h = file.Slice((int)tableOffset + (i * entrySize), entrySize);
            headers[i] = is64
                ? (U32(h, 0, little), U32(h, 4, little), U64(h, 0x18, little), U64(h, 0x20, little))
                : (U32(h, 0, little), U32(h, 4, little), U32(h, 0x10, little), U32(h, 0x14, little));
        }

        var names = headers[namesIndex];
        if (!InFile(file, names.Offset, names.Size))
        {
            return null;
        }

        var nameTable = file.Slice((int)names.Offset, (int)names.Size);
        var sections = new List<ElfSection>(count);
        foreach (var (nameOffset, type, offset, size) in headers)
        {
            if (nameOffset >= nameTable.Length)
            {
                return null;
            }

            var rest = nameTable[(int)nameOffset..];
            var end = rest.IndexOf((byte)0);
            var name = Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
            if (type == NoBits)
            {
                sections.Add(new ElfSection(name, type, (long)size, Digest.Empty));
                continue;
            }

            if (!InFile(file, offset, size))
            {
                return null;
            }

            sections.Add(new ElfSection(name, type, (long)size, Digest.FromBytes(file.Slice((int)offset, (int)size))));
        }

        return sections;
    }

    /// <summary>
    /// The names of the sections that differ between two builds: present in one only, or with other
    /// bytes. Sections are matched by name and position among sections of that name.
    /// </summary>
    public static IReadOnlyList<string> DifferingSections(IReadOnlyList<ElfSection> left, IReadOnlyList<ElfSection> right)
    {
        var differing = new List<string>();
        var rightByName = new Dictionary<string, Queue<ElfSection>>(StringComparer.Ordinal);
        foreach (var s in right)
        {
            if (!rightByName.TryGetValue(s.Name, out var q))
            {
                rightByName[s.Name] = q = new Queue<ElfSection>();
            }

            q.Enqueue(s);
        }

        foreach (var s in left)
        {
            if (!rightByName.TryGetValue(s.Name, out var q) || !q.TryDequeue(out var other))
            {
                differing.Add($"{Display(s.Name)} (only in the first, {s.Size} bytes)");
            }
            else if (other.Contents != s.Contents || other.Size != s.Size)
            {
                differing.Add(other.Size == s.Size ? $"{Display(s.Name)} ({s.Size} bytes, contents differ)" : $"{Display(s.Name)} ({s.Size} vs {other.Size} bytes)");
            }
        }

        foreach (var (name, q) in rightByName)
        {
            foreach (var s in q)
            {
                differing.Add($"{Display(name)} (only in the second, {s.Size} bytes)");
            }
        }

        return differing;
    }

    private static string Display(string name) => name.Length == 0 ? "(null section)" : name;

    private static bool InFile(ReadOnlySpan<byte> file, ulong offset, ulong size) =>
        offset <= (ulong)file.Length && size <= (ulong)file.Length - offset && size <= int.MaxValue;

    private static ushort U16(ReadOnlySpan<byte> s, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(s[at..]) : BinaryPrimitives.ReadUInt16BigEndian(s[at..]);

    private static uint U32(ReadOnlySpan<byte> s, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(s[at..]) : BinaryPrimitives.ReadUInt32BigEndian(s[at..]);

    private static ulong U64(ReadOnlySpan<byte> s, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt64LittleEndian(s[at..]) : BinaryPrimitives.ReadUInt64BigEndian(s[at..]);
}
