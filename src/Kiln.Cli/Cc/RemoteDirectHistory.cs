namespace Kiln.Cli.Cc;

/// <summary>
/// Whether remote direct mode's LOOKUP has been worth its round trip lately, for this user's compiles
/// (KILN_DIR/remote-direct-history: the last outcomes, oldest first, <c>h</c> for a compile the node
/// already knew and <c>m</c> for one it did not). The LOOKUP is asked before the preprocessor, so a
/// miss costs a round trip that a compile without it does not pay; in a cold build every LOOKUP
/// misses. After <see cref="MissesBeforeSkipping"/> misses in a row only one compile in
/// <see cref="SampleEvery"/> asks, the others go the hash-first way (the JOB carries the ActionKey, so
/// a node that has the result still answers it, after the preprocessor). A compile the node had the
/// result of (a LOOKUP hit, or a JOB answered from the node's cache) makes every compile ask again: a
/// warm rebuild keeps skipping the preprocessor. A manifest that no longer matches (a header was
/// edited) is a miss: the LOOKUP's round trip bought nothing, and the compile went on as without it. Concurrent compiles may overwrite each
/// other's outcome; it is a guess, and any guess is correct, only slower.
/// </summary>
internal static class RemoteDirectHistory
{
    /// <summary>Misses in a row after which LOOKUP is mostly skipped.</summary>
    public const int MissesBeforeSkipping = 4;

    /// <summary>While skipping, one compile in this many asks anyway, to notice a node that now knows the build.</summary>
    public const int SampleEvery = 8;

    private const int Kept = 8;

    private static string PathIn(string stateDirectory) => Path.Combine(stateDirectory, "remote-direct-history");

    /// <summary>True when this compile should ask its LOOKUP (see the class summary); <paramref name="sample"/> draws 0..SampleEvery-1.</summary>
    public static bool ShouldAsk(string stateDirectory, Func<int, int>? sample = null)
    {
        string history;
        try
        {
            history = File.ReadAllText(PathIn(stateDirectory));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }

        history = history.Trim();
        if (history.Length < MissesBeforeSkipping || history[^MissesBeforeSkipping..].Any(c => c != 'm'))
        {
            return true;
        }

        return (sample ?? Random.Shared.Next)(SampleEvery) == 0;
    }

    /// <summary>Appends one outcome: <paramref name="known"/> when the node already knew the compile.</summary>
    public static void Record(string stateDirectory, bool known)
    {
        var path = PathIn(stateDirectory);
        try
        {
            var before = File.Exists(path) ? File.ReadAllText(path).Trim() : "";
            var history = new string([.. before.Where(c => c is 'h' or 'm')]) + (known ? 'h' : 'm');
            if (history.Length > Kept)
            {
                history = history[^Kept..];
            }

            if (history == before)
            {
                // A run of misses (or hits) that is already as long as is kept: nothing changes.
                return;
            }

            Directory.CreateDirectory(stateDirectory);
            File.WriteAllText(path, history);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A guess only: the next compile asks.
        }
    }
}
