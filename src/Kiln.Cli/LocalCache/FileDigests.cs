using Kiln.Core.Actions;
using Kiln.Core.Hashing;

namespace Kiln.Cli.LocalCache;

/// <summary>
/// The digests of the files one compile's direct-mode lookups name, each file looked at most once
/// however many manifest entries (local or a node's) name it. With a <see cref="DigestCache"/> a file
/// whose stamp is in it is only stat'ed; any other is read and hashed, and entered when it has not
/// changed meanwhile. Relative names resolve against the compile's working directory.
/// </summary>
internal sealed class FileDigests(string workingDirectory, DigestCache? cache = null)
{
    private readonly Dictionary<string, FileFacts> _files = new(StringComparer.Ordinal);

    /// <summary>How many files this run took from the digest cache, and how many it read and hashed.</summary>
    public (int Cached, int Hashed) Counts { get; private set; }

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

    /// <summary>The file's digest now and whether it uses a time macro; a null digest when it cannot be read.</summary>
    public FileFacts Read(string name)
    {
        if (_files.TryGetValue(name, out var known))
        {
            return known;
        }

        var path = Path.Combine(workingDirectory, name);
        var stamp = cache is null ? null : DigestCache.Stat(path);
        FileFacts facts;
        if (stamp is { } before && cache!.TryGet(before, out var cached, out var timeMacros))
        {
            facts = new FileFacts(cached, timeMacros);
            Counts = (Counts.Cached + 1, Counts.Hashed);
        }
        else
        {
            facts = ReadWhole(path).Facts;
            Counts = (Counts.Cached, Counts.Hashed + 1);
            if (stamp is { } stamped && facts.Digest is { } digest && cache!.MayEnter(stamped) && DigestCache.Stat(path) == stamped)
            {
                cache.Put(stamped, digest, facts.UsesTimeMacros);
            }
        }

        _files[name] = facts;
        return facts;
    }

    /// <summary>
    /// A file's content read now with its facts, bypassing the digest cache and this compile's memo
    /// (remote preprocessing sends the content and must give the digest of exactly that); a null
    /// content and digest when it cannot be read.
    /// </summary>
    public static (byte[]? Content, FileFacts Facts) ReadWhole(string path)
    {
        try
        {
            var content = File.ReadAllBytes(path);
            return (content, new FileFacts(Digest.FromBytes(content), DirectMode.UsesTimeMacros(content)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (null, new FileFacts(null, false));
        }
    }
}

/// <summary>A file's digest (null when it cannot be read) and whether its text uses __DATE__, __TIME__ or __TIMESTAMP__.</summary>
internal readonly record struct FileFacts(Digest? Digest, bool UsesTimeMacros);
