using Microsoft.Win32.SafeHandles;

namespace Kiln.Cli.Cc;

/// <summary>
/// An exclusive advisory lock on a zero-byte file, held until disposed or until the process ends
/// (the kernel drops it then, so a killed compile never leaks a slot). On Unix .NET opens a file
/// with <see cref="FileShare.None"/> by taking <c>flock(LOCK_EX | LOCK_NB)</c>, which is exactly the
/// non-blocking exclusive lock distcc's lock.c takes on its slot files.
/// </summary>
internal sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Takes the lock if nobody holds it; null when it is held, or the file cannot be opened.</summary>
    public static FileLock? TryTake(string path)
    {
        try
        {
            return new FileLock(File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (DirectoryNotFoundException)
        {
            // First use of this state directory: create it and try once more.
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                return new FileLock(File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
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
            // EWOULDBLOCK: another process holds it.
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
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
}
