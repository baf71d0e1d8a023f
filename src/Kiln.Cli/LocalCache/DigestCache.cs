using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Kiln.Core.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// What <c>statx</c> says of a file that identifies one version of its content: device, inode, size,
/// and the modification and change times to the nanosecond. Writing the file changes its change time,
/// and nothing but a clock set back can reset that.
/// </summary>
internal readonly record struct FileStamp(ulong Device, ulong Inode, long Size, long ModifiedSeconds, uint ModifiedNanoseconds,
    long ChangedSeconds, uint ChangedNanoseconds)
{
    /// <summary>Whether the file was last written or changed before <paramref name="unixSeconds"/>.</summary>
    public bool OlderThan(long unixSeconds) => ModifiedSeconds < unixSeconds && ChangedSeconds < unixSeconds;
}

/// <summary>
/// A table of file digests kept across <c>kiln cc</c> runs (ccache's inode cache), keyed by each
/// file's <see cref="FileStamp"/>: a direct-mode lookup stats a header instead of reading and hashing
/// it. One file under the state directory, <see cref="Slots"/> fixed-size entries in groups of
/// <see cref="Ways"/> chosen by device and inode, read and written in place by every process at once
/// without a lock: each entry carries a check value over its bytes, so one torn by a concurrent write
/// reads as empty, and the worst a race does is lose an entry. A file changed less than
/// <see cref="Margin"/> ago is never entered (a second write within the same clock tick would keep its
/// times), and an entry is only written when the file's stamp is the same after the read as before.
/// Anything wrong with the table (unreadable, another version, not a regular file) turns it off for
/// the run; the compile just hashes.
/// </summary>
internal sealed partial class DigestCache
{
    /// <summary>The number of entries: 16384 entries of 96 bytes, a 1.5 MiB file (sparse until filled).</summary>
    public const int Slots = 16384;

    /// <summary>Entries per group: a file's entry may sit in any of the 4 of its group.</summary>
    public const int Ways = 4;

    /// <summary>Files changed this recently are hashed every time, never entered.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(2);

    internal const int EntrySize = 96;
    internal const int HeaderSize = 64;
    // An entry: device 0, inode 8, size 16, modified seconds 24 and nanoseconds 32, changed
    // nanoseconds 36 and seconds 40 (the stamp), flags 48 (1 = time macros), SHA-256 56, check 88.
    private const int StampSize = 48;
    private const int HashOffset = 56;
    private const int CheckOffset = 88;
    private const ulong CheckSeed = 0x6b696c6e64696731; // "kilndig1"
    private static ReadOnlySpan<byte> Magic => "KILNDIG1"u8;

    private readonly SafeFileHandle _file;
    private readonly long _enterBefore;

    private DigestCache(SafeFileHandle file, DateTime now)
    {
        _file = file;
        _enterBefore = new DateTimeOffset(now - Margin).ToUnixTimeSeconds();
    }

    /// <summary>
    /// Opens (creating it when missing or not this version) the table at <paramref name="path"/>; null
    /// when it cannot be used here, and the compile then hashes every file.
    /// </summary>
    public static DigestCache? Open(string path, DateTime now)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var file = TryOpenExisting(path) ?? Create(path);
            return file is null ? null : new DigestCache(file, now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another compile may have put its fresh table in place first: use that one.
            try
            {
                return TryOpenExisting(path) is { } file ? new DigestCache(file, now) : null;
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    private static SafeFileHandle? TryOpenExisting(string path)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        if (RandomAccess.GetLength(file) == HeaderSize + (long)Slots * EntrySize && RandomAccess.Read(file, header, 0) == HeaderSize && IsHeader(header))
        {
            return file;
        }

        file.Dispose();
        return null;
    }

    /// <summary>Writes an empty table beside <paramref name="path"/> and renames it into place.</summary>
    private static SafeFileHandle? Create(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Unique per call: compiles (and threads) that find no table create theirs side by side, and
        // the last rename wins; a loser's handle is to a file no one else sees, which only loses entries.
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = File.OpenHandle(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                Span<byte> header = stackalloc byte[HeaderSize];
                header.Clear();
                Magic.CopyTo(header);
                BinaryPrimitives.WriteInt32LittleEndian(header[Magic.Length..], Slots);
                BinaryPrimitives.WriteInt32LittleEndian(header[(Magic.Length + 4)..], EntrySize);
                RandomAccess.Write(file, header, 0);
                RandomAccess.SetLength(file, HeaderSize + (long)Slots * EntrySize);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        return TryOpenExisting(path);
    }

    private static bool IsHeader(ReadOnlySpan<byte> header) =>
        header.StartsWith(Magic) && BinaryPrimitives.ReadInt32LittleEndian(header[Magic.Length..]) == Slots
        && BinaryPrimitives.ReadInt32LittleEndian(header[(Magic.Length + 4)..]) == EntrySize;

    /// <summary>The file's stamp (following symbolic links), or null when it cannot be had.</summary>
    public static FileStamp? Stat(string path)
    {
        const int AtFdCwd = -100;
        const uint Wanted = 0x40 | 0x80 | 0x100 | 0x200; // STATX_MTIME | STATX_CTIME | STATX_INO | STATX_SIZE
        const ushort TypeMask = 0xF000;
        const ushort RegularFile = 0x8000;
        Span<byte> buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, 0, 0x7FF, buffer) != 0)
        {
            return null;
        }

        ReadOnlySpan<byte> statx = buffer;
        var mask = BinaryPrimitives.ReadUInt32LittleEndian(statx);
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(statx[28..]);
        if ((mask & Wanted) != Wanted || (mode & TypeMask) != RegularFile)
        {
            return null;
        }

        var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(statx[136..]) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(statx[140..]);
        return new FileStamp(device, BinaryPrimitives.ReadUInt64LittleEndian(statx[32..]), BinaryPrimitives.ReadInt64LittleEndian(statx[40..]),
            BinaryPrimitives.ReadInt64LittleEndian(statx[112..]), BinaryPrimitives.ReadUInt32LittleEndian(statx[120..]),
            BinaryPrimitives.ReadInt64LittleEndian(statx[96..]), BinaryPrimitives.ReadUInt32LittleEndian(statx[104..]));
    }

    /// <summary>Whether a file with this stamp may be entered now: changed at least <see cref="Margin"/> ago.</summary>
    public bool MayEnter(FileStamp stamp) => stamp.OlderThan(_enterBefore);

    /// <summary>The digest entered for exactly this stamp, and whether the file uses time macros.</summary>
    public bool TryGet(FileStamp stamp, out Digest digest, out bool usesTimeMacros)
    {
        Span<byte> group = stackalloc byte[EntrySize * Ways];
        if (Read(stamp, group))
        {
            Span<byte> wanted = stackalloc byte[StampSize];
            WriteStamp(wanted, stamp);
            for (var way = 0; way < Ways; way++)
            {
                var entry = group.Slice(way * EntrySize, EntrySize);
                if (entry[..StampSize].SequenceEqual(wanted) && IsIntact(entry))
                {
                    var flags = BinaryPrimitives.ReadUInt32LittleEndian(entry[StampSize..]);
                    digest = Digest.FromHash(entry.Slice(HashOffset, Digest.HashLength), stamp.Size);
                    usesTimeMacros = (flags & 1) != 0;
                    return true;
                }
            }
        }

        digest = default;
        usesTimeMacros = false;
        return false;
    }

    /// <summary>
    /// Enters <paramref name="digest"/> for <paramref name="stamp"/> (over an entry of the same file,
    /// else an empty or torn one, else one chosen by the stamp). Does nothing for a file changed too
    /// recently (<see cref="MayEnter"/>) or a digest of another size.
    /// </summary>
    public void Put(FileStamp stamp, Digest digest, bool usesTimeMacros)
    {
        if (!MayEnter(stamp) || digest.Size != stamp.Size)
        {
            return;
        }

        Span<byte> group = stackalloc byte[EntrySize * Ways];
        if (!Read(stamp, group))
        {
            return;
        }

        var way = -1;
        for (var i = 0; i < Ways && way < 0; i++)
        {
            var old = group.Slice(i * EntrySize, EntrySize);
            if (BinaryPrimitives.ReadUInt64LittleEndian(old) == stamp.Device && BinaryPrimitives.ReadUInt64LittleEndian(old[8..]) == stamp.Inode)
            {
                way = i;
            }
        }

        for (var i = 0; i < Ways && way < 0; i++)
        {
            if (!IsIntact(group.Slice(i * EntrySize, EntrySize)))
            {
                way = i;
            }
        }

        if (way < 0)
        {
            way = (int)(Mix(stamp.Inode, (ulong)stamp.ChangedNanoseconds) % Ways);
        }

        Span<byte> entry = stackalloc byte[EntrySize];
        entry.Clear();
        WriteStamp(entry, stamp);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[StampSize..], usesTimeMacros ? 1u : 0u);
        digest.WriteHash(entry.Slice(HashOffset, Digest.HashLength));
        BinaryPrimitives.WriteUInt64LittleEndian(entry[CheckOffset..], Check(entry[..CheckOffset]));
        try
        {
            RandomAccess.Write(_file, entry, GroupOffset(stamp) + (way * EntrySize));
        }
        catch (IOException)
        {
            // A full disk loses the entry, nothing else.
        }
    }

    private bool Read(FileStamp stamp, Span<byte> group)
    {
        try
        {
            return RandomAccess.Read(_file, group, GroupOffset(stamp)) == group.Length;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static long GroupOffset(FileStamp stamp) =>
        HeaderSize + ((long)(Mix(stamp.Device, stamp.Inode) % (Slots / Ways)) * Ways * EntrySize);

    private static ulong Mix(ulong a, ulong b)
    {
        var h = (a * 0x9E3779B97F4A7C15UL) ^ (b * 0xC2B2AE3D27D4EB4FUL);
        return h ^ (h >> 29);
    }

    private static void WriteStamp(Span<byte> entry, FileStamp stamp)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(entry, stamp.Device);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], stamp.Inode);
        BinaryPrimitives.WriteInt64LittleEndian(entry[16..], stamp.Size);
        BinaryPrimitives.WriteInt64LittleEndian(entry[24..], stamp.ModifiedSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[32..], stamp.ModifiedNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[36..], stamp.ChangedNanoseconds);
        BinaryPrimitives.WriteInt64LittleEndian(entry[40..], stamp.ChangedSeconds);
    }

    private static bool IsIntact(ReadOnlySpan<byte> entry) =>
        BinaryPrimitives.ReadUInt64LittleEndian(entry[CheckOffset..]) == Check(entry[..CheckOffset]);

    /// <summary>FNV-1a over the entry from a seed: catches an entry torn by a concurrent write, and an empty one.</summary>
    private static ulong Check(ReadOnlySpan<byte> bytes)
    {
        var h = 0xcbf29ce484222325UL ^ CheckSeed;
        foreach (var b in bytes)
        {
            h = (h ^ b) * 0x100000001b3UL;
        }

        return h;
    }

    [LibraryImport("libc.so.6", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, Span<byte> buffer);
}
