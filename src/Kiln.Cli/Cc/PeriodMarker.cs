namespace Kiln.Cli.Cc;

/// <summary>
/// A file whose age says whether something was said or decided recently by any process of this user:
/// a failed node's backoff, a notice about a broken host list. Claiming one is atomic across the
/// concurrent processes of a build (a check and a write under one lock), so exactly one process
/// claims it per period and only that one speaks.
/// </summary>
internal static class PeriodMarker
{
    /// <summary>True when the marker exists and is younger than <paramref name="period"/>.</summary>
    public static bool IsFresh(string path, TimeSpan period)
    {
        // A missing file reads as 1601-01-01, which is never fresh: no exception on the hot path.
        var age = DateTime.UtcNow - File.GetLastWriteTimeUtc(path);
        return age < period && age > -period;
    }

    /// <summary>
    /// Writes the marker unless a fresh one exists. True when this call wrote it (the caller speaks);
    /// false when another process already did. When the state directory is unusable every caller
    /// claims it: saying a thing twice beats never saying it.
    /// </summary>
    public static bool TryClaim(string path, TimeSpan period, string content)
    {
        var directory = Path.GetDirectoryName(path)!;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }

        // The critical section is one stat and one small write; 2 s covers a loaded machine.
        using var guard = FileLock.Take(Path.Combine(directory, ".lock"), TimeSpan.FromSeconds(2));
        if (IsFresh(path, period))
        {
            return false;
        }

        try
        {
            File.WriteAllText(path, content);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return true;
    }
}
