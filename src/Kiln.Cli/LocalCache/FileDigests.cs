using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// The digests of the files one compile's direct-mode lookups name, each file read and hashed at most
/// once however many manifest entries (local or a node's) name it. Relative names resolve against the
/// compile's working directory.
/// </summary>
internal sealed class FileDigests(string workingDirectory)
{
    private readonly Dictionary<string, Digest?> _digests = new(StringComparer.Ordinal);

    /// <summary>Whether every file still has the digest the entry recorded (an unreadable file never does).</summary>
    public bool AllMatch(IReadOnlyList<IncludedFile> files)
    {
        foreach (var file in files)
        {
            if (Of(file.Path) != file.Digest)
            {
                return false;
            }
        }

        return true;
    }

    private Digest? Of(string name)
    {
        if (!_digests.TryGetValue(name, out var now))
        {
            now = LocalCompileCache.DigestOfFile(Path.Combine(workingDirectory, name));
            _digests[name] = now;
        }

        return now;
    }
}
