using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kiln.Cli.Cc;

/// <summary>
/// An exclusive advisory lock on a zero-byte file, held until disposed or until the process ends
/// (the kernel drops it then, so a killed compile never leaks a slot): <c>flock(LOCK_EX | LOCK_NB)</c>,
/// the non-blocking exclusive lock distcc's lock.c takes on its slot files. Taken here, not through
/// <see cref="FileShare.None"/>: the programs run with .NET's own file locking off
/// (System.IO.DisableFileLocking, Kiln.Program.props), so that every other file they open costs no
/// flock calls and no ftruncate.
/// </summary>
internal sealed partial class FileLock : IDisposable
{
    private const int LockExclusive = 2;
    private const int LockNonBlocking = 4;

    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock if nobody holds it; null when it is held, or the file cannot be opened.</summary>
    public static FileLock? TryTake(string path)
    {
        try
        {
            return Lock(path);
        }
        catch (DirectoryNotFoundException)
        {
            // First use of this state directory: create it and try once more.
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                return Lock(path);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Opens the file and takes the lock; null when another process holds it (EWOULDBLOCK).</summary>
    private static FileLock? Lock(string path)
    {
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        if (Flock(handle, LockExclusive | LockNonBlocking) == 0)
        {
            return new FileLock(handle);
        }

        handle.Dispose();
        return null;
    }

    /// <summary>
    /// Takes the lock, retrying for up to <paramref name="patience"/>; null if it stays held. For short
    /// critical sections (a marker check and write), not for slots.
    /// </summary>
    public static FileLock? Take(string path, TimeSpan patience)
    {
        var deadline = Environment.TickCount64 + (long)patience.TotalMilliseconds;
        while (true)
        {
            var taken = TryTake(path);
            if (taken is not null || Environment.TickCount64 >= deadline)
            {
                return taken;
            }

            Thread.Sleep(2);
        }
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => _handle.Dispose();

    [LibraryImport("libc.so.6", EntryPoint = "flock")]
    private static partial int Flock(SafeFileHandle handle, int operation);
}
