using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// The digests of the files one compile's direct-mode lookups name, each file read and hashed at most
/// once however many manifest entries (local or a node's) name it; a small file's content is kept
/// too, for remote preprocessing to send. Relative names resolve against the compile's working
/// directory.
/// </summary>
internal sealed class FileDigests(string workingDirectory)
{
    private readonly Dictionary<string, (Digest? Digest, byte[]? Content)> _files = new(StringComparer.Ordinal);

    /// <summary>Whether every file still has the digest the entry recorded (an unreadable file never does).</summary>
    public bool AllMatch(IReadOnlyList<IncludedFile> files)
    {
        foreach (var file in files)
        {
            if (Read(file.Path).Digest != file.Digest)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The file's digest now, and its content when it is small enough to hash in managed code (headers
    /// are); both null when it cannot be read.
    /// </summary>
    public (Digest? Digest, byte[]? Content) Read(string name)
    {
        if (_files.TryGetValue(name, out var known))
        {
            return known;
        }

        var path = Path.Combine(workingDirectory, name);
        (Digest?, byte[]?) read;
        try
        {
            var info = new FileInfo(path);
            if (info.Exists && info.Length <= Digest.ManagedHashLimit)
            {
                var content = File.ReadAllBytes(path);
                read = (Digest.FromBytes(content), content);
            }
            else
            {
                read = (LocalCompileCache.DigestOfFile(path), null);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            read = (null, null);
        }

        _files[name] = read;
        return read;
    }
}
