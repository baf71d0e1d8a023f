using System.Text;

namespace Kiln.Core.Protocol;

/// <summary>What a Unix socket's path may be, and the directory such a socket lives in.</summary>
public static class UnixSocketPath
{
    /// <summary>The most bytes a Unix socket's path may have (sockaddr_un's 108, less the NUL).</summary>
    public const int MaxBytes = 107;

    /// <summary>True when <paramref name="path"/> fits in a sockaddr_un.</summary>
    public static bool Fits(string path) => Encoding.UTF8.GetByteCount(path) <= MaxBytes;

    /// <summary>
    /// Creates <paramref name="directory"/> for a socket only its user (and root) may connect to: mode
    /// 0700, also when it was there before. Throws what the file system throws.
    /// </summary>
    public static void CreatePrivateDirectory(string directory)
    {
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(directory, owner);
        File.SetUnixFileMode(directory, owner);
    }
}
