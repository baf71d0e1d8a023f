namespace Kiln.Cli.Cc;

/// <summary>
/// Whether remote direct mode's LOOKUP has been worth its round trip lately, for this user's compiles
/// (KILN_DIR/remote-direct-history: the last outcomes, oldest first, <c>h</c> for a compile the node
/// had the result of and <c>m</c> for one it did not). The LOOKUP is asked before the preprocessor, so
/// a miss costs a round trip that a compile without it does not pay; in a cold build every LOOKUP
/// misses. After <see cref="MissesBeforeSkipping"/> misses in a row only one compile in
/// <see cref="SampleEvery"/> asks; the others go the hash-first way (the JOB carries the ActionKey, so a
/// node that has the result still answers it, after the preprocessor). A LOOKUP hit, or a JOB answered
/// from the node's cache, makes every compile ask again: a warm rebuild keeps skipping the
/// preprocessor. A manifest that no longer matches (a header was edited) is a miss: the round trip
/// bought nothing. The file is read once per compile; concurrent compiles may overwrite each other's
/// outcome, which only makes the guess slower to follow, never a result wrong.
/// </summary>
internal sealed class RemoteDirectHistory
{
    /// <summary>Misses in a row after which LOOKUP is mostly skipped.</summary>
    public const int MissesBeforeSkipping = 4;

    /// <summary>While skipping, one compile in this many asks anyway, to notice a node that now knows the build.</summary>
    public const int SampleEvery = 8;

    private const int Kept = 8;

    private readonly string _path;
    private string _history;

    private RemoteDirectHistory(string path, string history)
    {
        _path = path;
        _history = history;
    }

    /// <summary>Reads the history under <paramref name="stateDirectory"/>; an unreadable or garbled one counts as empty.</summary>
    public static RemoteDirectHistory Load(string stateDirectory)
    {
        var path = Path.Combine(stateDirectory, "remote-direct-history");
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            text = "";
        }

        return new RemoteDirectHistory(path, new string([.. text.Where(c => c is 'h' or 'm')]));
    }

    /// <summary>True when this compile should ask its LOOKUP (see the class summary); <paramref name="sample"/> draws 0..SampleEvery-1.</summary>
    public bool ShouldAsk(Func<int, int>? sample = null) =>
        _history.Length < MissesBeforeSkipping
        || _history[^MissesBeforeSkipping..].Any(c => c != 'm')
        || (sample ?? Random.Shared.Next)(SampleEvery) == 0;

    /// <summary>Appends one outcome (<paramref name="known"/>: the node had the result) and writes the file when that changed it.</summary>
    public void Record(bool known)
    {
        var history = _history + (known ? 'h' : 'm');
        if (history.Length > Kept)
        {
            history = history[^Kept..];
        }

        if (history == _history)
        {
            // A run of misses (or hits) already as long as is kept: nothing to write.
            return;
        }

        _history = history;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            File.WriteAllText(_path, history);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A guess only: the next compile asks.
        }
    }
}
