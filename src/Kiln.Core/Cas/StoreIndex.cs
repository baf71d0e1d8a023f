using System.Buffers.Binary;
using Kiln.Core.Hashing;
using Microsoft.Data.Sqlite;

namespace Kiln.Core.Cas;

/// <summary>
/// The store's SQLite index (WAL mode): one row per blob with its size and last access, the action
/// cache entries, and per-namespace counters. Not thread-safe: the owning <see cref="FileContentStore"/>
/// holds its gate around every call, so a check, a file rename and the row that records it are atomic
/// with respect to eviction.
/// Reads write nothing at once: a blob's new access time and a namespace's hit and miss counts wait
/// in memory and go to SQLite together, at most every <see cref="FlushInterval"/> or
/// <see cref="FlushBatch"/> changes, and always before anything reads them (eviction's LRU order,
/// statistics, <see cref="LastAccess"/>) and at close. A write transaction per cache hit cost the node
/// nine tenths of its small-blob GET rate (bench/cache.sh: 3,800 requests/s against nginx's 42,000).
/// A crash loses at most that interval of access times and counts, never a blob or an entry.
/// </summary>
internal sealed class StoreIndex : IDisposable
{
    /// <summary>The schema version kept in <c>meta</c>; a store written by a newer version is refused.</summary>
    public const int SchemaVersion = 1;

    private const int RefLength = Digest.HashLength + sizeof(long);

    private readonly SqliteConnection _db;
    private readonly TimeProvider _time;
    private readonly SqliteCommand _touchBlob;
    private readonly SqliteCommand _blobSize;
    private readonly SqliteCommand _insertBlob;
    private readonly SqliteCommand _deleteBlob;
    private readonly SqliteCommand _getAction;
    private readonly SqliteCommand _putAction;
    private readonly SqliteCommand _deleteAction;
    private readonly SqliteCommand _count;
    private long _lastStamp;

    /// <summary>Longest that deferred access times and counts wait in memory.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>Deferred changes that force a flush.</summary>
    public const int FlushBatch = 512;

    /// <summary>The most rows each read cache (<see cref="Remember"/>) holds.</summary>
    private const int ReadCacheLimit = 65_536;

    private readonly Dictionary<Digest, long> _knownSizes = [];
    private readonly Dictionary<(string Ns, string Key), ActionEntry> _knownActions = [];

    private readonly Dictionary<Digest, long> _pendingTouches = [];
    private readonly Dictionary<string, (long Hits, long Misses, long Puts, long BytesWritten, long BytesServed)> _pendingCounts = new(StringComparer.Ordinal);
    private long _lastFlush;

    private StoreIndex(SqliteConnection db, TimeProvider time)
    {
        _db = db;
        _time = time;
        _touchBlob = Prepare("UPDATE blobs SET last_access = $t WHERE hash = $h AND size = $s", "$t", "$h", "$s");
        _blobSize = Prepare("SELECT size FROM blobs WHERE hash = $h", "$h");
        _insertBlob = Prepare(
            "INSERT INTO blobs(hash, size, last_access, stored) VALUES($h, $s, $t, $t) " +
            "ON CONFLICT(hash) DO UPDATE SET size = excluded.size, last_access = excluded.last_access",
            "$h", "$s", "$t");
        _deleteBlob = Prepare("DELETE FROM blobs WHERE hash = $h", "$h");
        _getAction = Prepare("SELECT value_hash, value_size, refs, writer, written FROM actions WHERE ns = $ns AND key = $k", "$ns", "$k");
        _putAction = Prepare(
            "INSERT OR REPLACE INTO actions(ns, key, value_hash, value_size, refs, writer, written) VALUES($ns, $k, $vh, $vs, $r, $w, $t)",
            "$ns", "$k", "$vh", "$vs", "$r", "$w", "$t");
        _deleteAction = Prepare("DELETE FROM actions WHERE ns = $ns AND key = $k", "$ns", "$k");
        _count = Prepare(
            "INSERT INTO namespaces(ns, hits, misses, puts, bytes_written, bytes_served) VALUES($ns, $h, $m, $p, $bw, $bs) " +
            "ON CONFLICT(ns) DO UPDATE SET hits = hits + excluded.hits, misses = misses + excluded.misses, puts = puts + excluded.puts, " +
            "bytes_written = bytes_written + excluded.bytes_written, bytes_served = bytes_served + excluded.bytes_served",
            "$ns", "$h", "$m", "$p", "$bw", "$bs");
    }

    /// <summary>Opens (creating when absent) the index at <paramref name="path"/>.</summary>
    public static StoreIndex Open(string path, TimeProvider time)
    {
        var db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // One connection lives as long as the store; a pool would only keep a second copy of it.
            Pooling = false,
        }.ToString());
        db.Open();
        try
        {
            // WAL: readers never block the writer and a killed process loses nothing it committed.
            // synchronous=NORMAL: no fsync per commit; after a power loss the newest commits may be
            // gone, which the recovery pass reconciles like any other crash.
            Execute(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
            CreateSchema(db);
            return new StoreIndex(db, time);
        }
        catch
        {
            db.Dispose();
            throw;
        }
    }

    private static void CreateSchema(SqliteConnection db)
    {
        Execute(db, """
            CREATE TABLE IF NOT EXISTS meta(
                name TEXT PRIMARY KEY,
                value TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS blobs(
                hash BLOB PRIMARY KEY,
                size INTEGER NOT NULL,
                last_access INTEGER NOT NULL,
                stored INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS blobs_by_access ON blobs(last_access);
            CREATE TABLE IF NOT EXISTS actions(
                ns TEXT NOT NULL,
                key TEXT NOT NULL,
                value_hash BLOB NOT NULL,
                value_size INTEGER NOT NULL,
                refs BLOB NOT NULL,
                writer TEXT NOT NULL,
                written INTEGER NOT NULL,
                PRIMARY KEY(ns, key)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS namespaces(
                ns TEXT PRIMARY KEY,
                hits INTEGER NOT NULL,
                misses INTEGER NOT NULL,
                puts INTEGER NOT NULL,
                bytes_written INTEGER NOT NULL,
                bytes_served INTEGER NOT NULL) WITHOUT ROWID;
            INSERT OR IGNORE INTO meta(name, value) VALUES('schema', '1');
            """);
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT value FROM meta WHERE name = 'schema'";
        var version = Convert.ToInt32(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new InvalidDataException($"the store index has schema version {version}; this kiln reads version {SchemaVersion} and older");
        }
    }

    /// <summary>
    /// A strictly increasing time stamp in microseconds since the Unix epoch: the LRU order, so two
    /// accesses in the same clock tick still have an order.
    /// </summary>
    public long NextStamp()
    {
        var now = (_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        _lastStamp = Math.Max(now, _lastStamp + 1);
        return _lastStamp;
    }

    /// <summary>
    /// Continues the stamps after the newest one stored, so LRU order holds across restarts even if
    /// the clock stepped back in between.
    /// </summary>
    public void ResumeStamps()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT MAX(last_access) FROM blobs";
        if (cmd.ExecuteScalar() is long newest)
        {
            _lastStamp = Math.Max(_lastStamp, newest);
        }
    }

    /// <summary>Converts a stamp back to a time.</summary>
    public static DateTimeOffset FromStamp(long stamp) => DateTimeOffset.UnixEpoch.AddTicks(stamp * 10);

    /// <summary>
    /// Marks the blob used; false when the index has no such blob (hash and size). On a full disk the
    /// access time stays as it was and the answer comes from a read: reads keep working when the
    /// disk is full.
    /// </summary>
    public bool TouchBlob(Digest digest)
    {
        if (BlobSize(digest) != digest.Size)
        {
            return false;
        }

        _pendingTouches[digest] = NextStamp();
        FlushIfDue();
        return true;
    }

    /// <summary>Writes the deferred access times and counts when the interval or the batch size says so.</summary>
    private void FlushIfDue()
    {
        if (_pendingTouches.Count + _pendingCounts.Count >= FlushBatch || _time.GetTimestamp() - _lastFlush >= FlushInterval.TotalSeconds * _time.TimestampFrequency)
        {
            FlushPending();
        }
    }

    /// <summary>
    /// Writes the deferred access times and counts now, in the open transaction or in one of their own.
    /// Best effort on a full disk: what could not be written is dropped (an access time stays older,
    /// a count lower), and reads keep working.
    /// </summary>
    public void FlushPending()
    {
        _lastFlush = _time.GetTimestamp();
        if (_pendingTouches.Count == 0 && _pendingCounts.Count == 0)
        {
            return;
        }

        var own = SQLitePCL.raw.sqlite3_get_autocommit(_db.Handle) != 0;
        try
        {
            if (own)
            {
                Execute(_db, "BEGIN IMMEDIATE");
            }

            foreach (var (digest, stamp) in _pendingTouches)
            {
                _touchBlob.Parameters[0].Value = stamp;
                _touchBlob.Parameters[1].Value = digest.HashBytes();
                _touchBlob.Parameters[2].Value = digest.Size;
                _touchBlob.ExecuteNonQuery();
            }

            foreach (var (ns, c) in _pendingCounts)
            {
                _count.Parameters[0].Value = ns;
                _count.Parameters[1].Value = c.Hits;
                _count.Parameters[2].Value = c.Misses;
                _count.Parameters[3].Value = c.Puts;
                _count.Parameters[4].Value = c.BytesWritten;
                _count.Parameters[5].Value = c.BytesServed;
                _count.ExecuteNonQuery();
            }

            if (own)
            {
                Execute(_db, "COMMIT");
            }
        }
        catch (SqliteException e) when (IsFull(e))
        {
            if (own)
            {
                Rollback();
            }
        }
        finally
        {
            _pendingTouches.Clear();
            _pendingCounts.Clear();
        }
    }

    /// <summary>SQLITE_FULL: the disk (or the database's page limit) is full.</summary>
    public static bool IsFull(SqliteException e) => e.SqliteErrorCode == 13;

    /// <summary>The recorded size of the blob with this hash, or -1.</summary>
    public long BlobSize(Digest digest)
    {
        if (_knownSizes.TryGetValue(digest, out var known))
        {
            return known;
        }

        _blobSize.Parameters[0].Value = digest.HashBytes();
        var size = _blobSize.ExecuteScalar() is long s ? s : -1;
        if (size >= 0)
        {
            Remember(_knownSizes, digest, size);
        }

        return size;
    }

    /// <summary>
    /// Adds to one of the read caches, emptying it first when full: a cache GET then asks SQLite
    /// nothing (each query cost about a tenth of a small GET's CPU, perf, docs/benchmarks.md).
    /// The caches hold only what SQLite said, are changed with every write of the same row and are
    /// emptied by a rollback, so they never say more than the database.
    /// </summary>
    private static void Remember<TKey, TValue>(Dictionary<TKey, TValue> cache, TKey key, TValue value)
        where TKey : notnull
    {
        if (cache.Count >= ReadCacheLimit)
        {
            cache.Clear();
        }

        cache[key] = value;
    }

    /// <summary>Records a blob as stored and just used.</summary>
    public void InsertBlob(Digest digest)
    {
        _knownSizes.Remove(digest);
        _pendingTouches.Remove(digest);
        _insertBlob.Parameters[0].Value = digest.HashBytes();
        _insertBlob.Parameters[1].Value = digest.Size;
        _insertBlob.Parameters[2].Value = NextStamp();
        _insertBlob.ExecuteNonQuery();
    }

    /// <summary>Forgets a blob.</summary>
    public void DeleteBlob(Digest digest)
    {
        _knownSizes.Remove(digest);
        _pendingTouches.Remove(digest);
        _deleteBlob.Parameters[0].Value = digest.HashBytes();
        _deleteBlob.ExecuteNonQuery();
    }

    /// <summary>The <paramref name="limit"/> least recently used blobs, oldest first.</summary>
    public List<Digest> OldestBlobs(int limit)
    {
        FlushPending();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT hash, size FROM blobs ORDER BY last_access LIMIT $n";
        cmd.Parameters.AddWithValue("$n", limit);
        return ReadDigests(cmd);
    }

    /// <summary>Every blob in the index (for recovery).</summary>
    public List<Digest> AllBlobs()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT hash, size FROM blobs";
        return ReadDigests(cmd);
    }

    /// <summary>The number of blobs and their total size.</summary>
    public (long Count, long Bytes) BlobTotals()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs";
        using var reader = cmd.ExecuteReader();
        reader.Read();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The last access time of a blob, or null (for tests and diagnostics).</summary>
    public DateTimeOffset? LastAccess(Digest digest)
    {
        FlushPending();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT last_access FROM blobs WHERE hash = $h";
        cmd.Parameters.AddWithValue("$h", digest.HashBytes());
        return cmd.ExecuteScalar() is long stamp ? FromStamp(stamp) : null;
    }

    /// <summary>
    /// Starts a transaction that batches the following calls into one commit. Plain SQL rather than
    /// <c>BeginTransaction</c>, so the prepared commands need no transaction object.
    /// </summary>
    public void Begin() => Execute(_db, "BEGIN IMMEDIATE");

    /// <summary>
    /// Commits the transaction <see cref="Begin"/> started. False when it could not be kept: the disk
    /// is full (it is rolled back), or SQLite already rolled it back after a full-disk error.
    /// </summary>
    public bool Commit()
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(_db.Handle) != 0)
        {
            return false;
        }

        try
        {
            Execute(_db, "COMMIT");
            return true;
        }
        catch (SqliteException e) when (IsFull(e))
        {
            Rollback();
            return false;
        }
    }

    /// <summary>Abandons the transaction <see cref="Begin"/> started, if one is open.</summary>
    public void Rollback()
    {
        // The caches may hold what the abandoned transaction read of its own writes.
        _knownSizes.Clear();
        _knownActions.Clear();
        if (SQLitePCL.raw.sqlite3_get_autocommit(_db.Handle) == 0)
        {
            Execute(_db, "ROLLBACK");
        }
    }

    /// <summary>Reads an action entry, or null.</summary>
    public ActionEntry? GetAction(string ns, string key)
    {
        if (_knownActions.TryGetValue((ns, key), out var known))
        {
            return known;
        }

        _getAction.Parameters[0].Value = ns;
        _getAction.Parameters[1].Value = key;
        using var reader = _getAction.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var value = Digest.FromHash((byte[])reader.GetValue(0), reader.GetInt64(1));
        var refs = DecodeReferences((byte[])reader.GetValue(2));
        var entry = new ActionEntry(value, refs)
        {
            Writer = reader.GetString(3),
            Written = FromStamp(reader.GetInt64(4)),
        };
        Remember(_knownActions, (ns, key), entry);
        return entry;
    }

    /// <summary>Stores or replaces an action entry; returns the stamp it was written with.</summary>
    public long PutAction(string ns, string key, ActionEntry entry, string writer)
    {
        var stamp = NextStamp();
        _knownActions.Remove((ns, key));
        _putAction.Parameters[0].Value = ns;
        _putAction.Parameters[1].Value = key;
        _putAction.Parameters[2].Value = entry.Value.HashBytes();
        _putAction.Parameters[3].Value = entry.Value.Size;
        _putAction.Parameters[4].Value = EncodeReferences(entry.References);
        _putAction.Parameters[5].Value = writer;
        _putAction.Parameters[6].Value = stamp;
        _putAction.ExecuteNonQuery();
        return stamp;
    }

    /// <summary>Removes an action entry; true when there was one.</summary>
    public bool DeleteAction(string ns, string key)
    {
        _knownActions.Remove((ns, key));
        _deleteAction.Parameters[0].Value = ns;
        _deleteAction.Parameters[1].Value = key;
        return _deleteAction.ExecuteNonQuery() > 0;
    }

    /// <summary>Adds to a namespace's counters (best effort: skipped when the disk is full).</summary>
    public void Count(string ns, long hits, long misses, long puts, long bytesWritten, long bytesServed)
    {
        var c = _pendingCounts.GetValueOrDefault(ns);
        _pendingCounts[ns] = (c.Hits + hits, c.Misses + misses, c.Puts + puts, c.BytesWritten + bytesWritten, c.BytesServed + bytesServed);
        FlushIfDue();
    }

    /// <summary>Every namespace's counters and entry count, ordered by namespace.</summary>
    public List<NamespaceStatistics> NamespaceCounters()
    {
        FlushPending();
        using var cmd = _db.CreateCommand();
        cmd.CommandText = """
            SELECT n.ns, (SELECT COUNT(*) FROM actions a WHERE a.ns = n.ns), n.hits, n.misses, n.puts, n.bytes_written, n.bytes_served
            FROM namespaces n ORDER BY n.ns
            """;
        using var reader = cmd.ExecuteReader();
        var list = new List<NamespaceStatistics>();
        while (reader.Read())
        {
            list.Add(new NamespaceStatistics(
                reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6)));
        }

        return list;
    }

    /// <summary>Packs references as n × (32-byte hash, 8-byte big-endian size).</summary>
    internal static byte[] EncodeReferences(IReadOnlyList<Digest> references)
    {
        var bytes = new byte[references.Count * RefLength];
        for (var i = 0; i < references.Count; i++)
        {
            var slot = bytes.AsSpan(i * RefLength, RefLength);
            references[i].WriteHash(slot);
            BinaryPrimitives.WriteInt64BigEndian(slot[Digest.HashLength..], references[i].Size);
        }

        return bytes;
    }

    /// <summary>Unpacks what <see cref="EncodeReferences"/> wrote.</summary>
    internal static Digest[] DecodeReferences(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length % RefLength != 0)
        {
            throw new InvalidDataException($"an action entry's references take {bytes.Length} bytes, not a multiple of {RefLength}");
        }

        var refs = new Digest[bytes.Length / RefLength];
        for (var i = 0; i < refs.Length; i++)
        {
            var slot = bytes.Slice(i * RefLength, RefLength);
            refs[i] = Digest.FromHash(slot[..Digest.HashLength], BinaryPrimitives.ReadInt64BigEndian(slot[Digest.HashLength..]));
        }

        return refs;
    }

    private static List<Digest> ReadDigests(SqliteCommand cmd)
    {
        using var reader = cmd.ExecuteReader();
        var list = new List<Digest>();
        while (reader.Read())
        {
            var hash = (byte[])reader.GetValue(0);
            if (hash.Length == Digest.HashLength)
            {
                list.Add(Digest.FromHash(hash, reader.GetInt64(1)));
            }
        }

        return list;
    }

    private SqliteCommand Prepare(string sql, params string[] names)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var name in names)
        {
            cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return cmd;
    }

    private static void Execute(SqliteConnection db, string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            FlushPending();
        }
        catch (SqliteException)
        {
            // Closing anyway: only access times and counts were pending.
        }

        _touchBlob.Dispose();
        _blobSize.Dispose();
        _insertBlob.Dispose();
        _deleteBlob.Dispose();
        _getAction.Dispose();
        _putAction.Dispose();
        _deleteAction.Dispose();
        _count.Dispose();
        _db.Dispose();
    }
}
