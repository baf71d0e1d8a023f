using Microsoft.Data.Sqlite;

namespace Kiln.Server.Accounting;

/// <summary>
/// The node's accounting database (<c>accounting.db</c> in the data directory, beside the store's
/// index): job records of this node and of the nodes that push to it, running totals per node and
/// identity that retention does not shrink, refusals by reason, and how far this node's records have
/// reached the collector. A record is counted into the totals only when it is first inserted, so a
/// batch sent twice is counted once. Thread-safe (one connection behind a lock).
/// </summary>
public sealed class AccountingDatabase : IDisposable
{
    private const string Schema = """
        PRAGMA journal_mode=WAL;
        PRAGMA synchronous=NORMAL;
        CREATE TABLE IF NOT EXISTS jobs(
            node TEXT NOT NULL, id INTEGER NOT NULL, started_ms INTEGER NOT NULL, identity TEXT NOT NULL,
            address TEXT NOT NULL, frontend TEXT NOT NULL, action_key TEXT NOT NULL, compiler TEXT NOT NULL,
            source TEXT NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, queue_ms INTEGER NOT NULL,
            cpu_ms INTEGER NOT NULL, wall_ms INTEGER NOT NULL, cache TEXT NOT NULL, cache_from TEXT NOT NULL,
            exit_code INTEGER, refusal TEXT NOT NULL, PRIMARY KEY(node, id));
        CREATE INDEX IF NOT EXISTS jobs_started ON jobs(started_ms);
        CREATE TABLE IF NOT EXISTS totals(
            node TEXT NOT NULL, identity TEXT NOT NULL, jobs INTEGER NOT NULL, failed INTEGER NOT NULL,
            refused INTEGER NOT NULL, cpu_ms INTEGER NOT NULL, wall_ms INTEGER NOT NULL, queue_ms INTEGER NOT NULL,
            bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, PRIMARY KEY(node, identity));
        CREATE TABLE IF NOT EXISTS refusals(node TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY(node, reason));
        CREATE TABLE IF NOT EXISTS pushed(collector TEXT PRIMARY KEY, last_id INTEGER NOT NULL, count INTEGER NOT NULL);
        """;

    private const string Columns = "node, id, started_ms, identity, address, frontend, action_key, compiler, source, bytes_in, bytes_out, queue_ms, cpu_ms, wall_ms, cache, cache_from, exit_code, refusal";

    private readonly SqliteConnection _connection;
    private readonly Lock _gate = new();

    private AccountingDatabase(SqliteConnection connection) => _connection = connection;

    /// <summary>Opens (creating when absent) <c>accounting.db</c> in <paramref name="directory"/>.</summary>
    public static AccountingDatabase Open(string directory)
    {
        Directory.CreateDirectory(directory);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(directory, "accounting.db"),
            Pooling = false,
        }.ToString());
        connection.Open();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = Schema;
            command.ExecuteNonQuery();
        }

        return new AccountingDatabase(connection);
    }

    /// <summary>The highest job number recorded for <paramref name="node"/> (0 when none).</summary>
    public long LastId(string node)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT COALESCE(MAX(id), 0) FROM jobs WHERE node = $node";
            command.Parameters.AddWithValue("$node", node);
            var fromJobs = (long)command.ExecuteScalar()!;
            command.CommandText = "SELECT COALESCE(MAX(last_id), 0) FROM pushed";
            return Math.Max(fromJobs, (long)command.ExecuteScalar()!);
        }
    }

    /// <summary>Inserts records not seen before and adds them to the totals, in one transaction. Returns how many were new.</summary>
    public int Insert(IReadOnlyList<JobRecord> records)
    {
        lock (_gate)
        {
            using var transaction = _connection.BeginTransaction();
            using var insert = _connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = $"INSERT OR IGNORE INTO jobs({Columns}) VALUES($node, $id, $started, $identity, $address, $frontend, $key, $compiler, $source, $in, $out, $queue, $cpu, $wall, $cache, $from, $exit, $refusal)";
            var p = new SqliteParameter[18];
            string[] names = ["$node", "$id", "$started", "$identity", "$address", "$frontend", "$key", "$compiler", "$source", "$in", "$out", "$queue", "$cpu", "$wall", "$cache", "$from", "$exit", "$refusal"];
            for (var i = 0; i < names.Length; i++)
            {
                p[i] = insert.Parameters.Add(new SqliteParameter { ParameterName = names[i] });
            }

            using var total = _connection.CreateCommand();
            total.Transaction = transaction;
            total.CommandText = """
                INSERT INTO totals(node, identity, jobs, failed, refused, cpu_ms, wall_ms, queue_ms, bytes_in, bytes_out)
                VALUES($node, $identity, 1, $failed, $refused, $cpu, $wall, $queue, $in, $out)
                ON CONFLICT(node, identity) DO UPDATE SET jobs = jobs + 1, failed = failed + $failed, refused = refused + $refused,
                    cpu_ms = cpu_ms + $cpu, wall_ms = wall_ms + $wall, queue_ms = queue_ms + $queue,
                    bytes_in = bytes_in + $in, bytes_out = bytes_out + $out
                """;
            var tNode = total.Parameters.Add("$node", SqliteType.Text);
            var tIdentity = total.Parameters.Add("$identity", SqliteType.Text);
            var tFailed = total.Parameters.Add("$failed", SqliteType.Integer);
            var tRefused = total.Parameters.Add("$refused", SqliteType.Integer);
            var tCpu = total.Parameters.Add("$cpu", SqliteType.Integer);
            var tWall = total.Parameters.Add("$wall", SqliteType.Integer);
            var tQueue = total.Parameters.Add("$queue", SqliteType.Integer);
            var tIn = total.Parameters.Add("$in", SqliteType.Integer);
            var tOut = total.Parameters.Add("$out", SqliteType.Integer);

            using var refusal = _connection.CreateCommand();
            refusal.Transaction = transaction;
            refusal.CommandText = "INSERT INTO refusals(node, reason, count) VALUES($node, $reason, 1) ON CONFLICT(node, reason) DO UPDATE SET count = count + 1";
            var rNode = refusal.Parameters.Add("$node", SqliteType.Text);
            var rReason = refusal.Parameters.Add("$reason", SqliteType.Text);

            var added = 0;
            foreach (var r in records)
            {
                p[0].Value = r.Node;
                p[1].Value = r.Id;
                p[2].Value = r.StartedMs;
                p[3].Value = r.Identity;
                p[4].Value = r.Address;
                p[5].Value = r.FrontEnd;
                p[6].Value = r.ActionKey;
                p[7].Value = r.Compiler;
                p[8].Value = r.Source;
                p[9].Value = r.BytesIn;
                p[10].Value = r.BytesOut;
                p[11].Value = r.QueueMs;
                p[12].Value = r.CpuMs;
                p[13].Value = r.WallMs;
                p[14].Value = r.Cache;
                p[15].Value = r.CacheFrom;
                p[16].Value = r.ExitCode is { } exit ? exit : DBNull.Value;
                p[17].Value = r.Refusal;
                if (insert.ExecuteNonQuery() == 0)
                {
                    continue;
                }

                added++;
                tNode.Value = r.Node;
                tIdentity.Value = r.Identity;
                tFailed.Value = r.ExitCode is { } code && code != 0 ? 1 : 0;
                tRefused.Value = r.Refusal.Length > 0 ? 1 : 0;
                tCpu.Value = r.CpuMs;
                tWall.Value = r.WallMs;
                tQueue.Value = r.QueueMs;
                tIn.Value = r.BytesIn;
                tOut.Value = r.BytesOut;
                total.ExecuteNonQuery();
                if (r.Refusal.Length > 0)
                {
                    rNode.Value = r.Node;
                    rReason.Value = r.Refusal;
                    refusal.ExecuteNonQuery();
                }
            }

            transaction.Commit();
            return added;
        }
    }

    /// <summary>Job records, newest first, optionally of one node or identity.</summary>
    public List<JobRecord> Jobs(int limit, string? node, string? identity)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM jobs WHERE ($node IS NULL OR node = $node) AND ($identity IS NULL OR identity = $identity) ORDER BY started_ms DESC, id DESC LIMIT $limit";
            command.Parameters.AddWithValue("$node", (object?)node ?? DBNull.Value);
            command.Parameters.AddWithValue("$identity", (object?)identity ?? DBNull.Value);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadJobs(command);
        }
    }

    /// <summary>This node's records after <paramref name="afterId"/>, oldest first, for the collector.</summary>
    public List<JobRecord> Unpushed(string node, long afterId, int limit)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = $"SELECT {Columns} FROM jobs WHERE node = $node AND id > $after ORDER BY id LIMIT $limit";
            command.Parameters.AddWithValue("$node", node);
            command.Parameters.AddWithValue("$after", afterId);
            command.Parameters.AddWithValue("$limit", limit);
            return ReadJobs(command);
        }
    }

    /// <summary>The last of this node's job numbers the collector acknowledged, and how many records it acknowledged.</summary>
    public (long LastId, long Count) PushedTo(string collector)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT last_id, count FROM pushed WHERE collector = $c";
            command.Parameters.AddWithValue("$c", collector);
            using var reader = command.ExecuteReader();
            return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
        }
    }

    /// <summary>Notes that the collector acknowledged records up to <paramref name="lastId"/>.</summary>
    public void MarkPushed(string collector, long lastId, long count)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT INTO pushed(collector, last_id, count) VALUES($c, $id, $n) ON CONFLICT(collector) DO UPDATE SET last_id = $id, count = count + $n";
            command.Parameters.AddWithValue("$c", collector);
            command.Parameters.AddWithValue("$id", lastId);
            command.Parameters.AddWithValue("$n", count);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>Totals per node and identity.</summary>
    public List<AccountingTotal> Totals()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT node, identity, jobs, failed, refused, cpu_ms, wall_ms, queue_ms, bytes_in, bytes_out FROM totals ORDER BY node, identity";
            using var reader = command.ExecuteReader();
            var list = new List<AccountingTotal>();
            while (reader.Read())
            {
                list.Add(new AccountingTotal
                {
                    Node = reader.GetString(0),
                    Identity = reader.GetString(1),
                    Jobs = reader.GetInt64(2),
                    Failed = reader.GetInt64(3),
                    Refused = reader.GetInt64(4),
                    CpuMs = reader.GetInt64(5),
                    WallMs = reader.GetInt64(6),
                    QueueMs = reader.GetInt64(7),
                    BytesIn = reader.GetInt64(8),
                    BytesOut = reader.GetInt64(9),
                });
            }

            return list;
        }
    }

    /// <summary>Refusals by reason over all nodes.</summary>
    public List<RefusalCount> Refusals()
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT reason, SUM(count) FROM refusals GROUP BY reason ORDER BY reason";
            using var reader = command.ExecuteReader();
            var list = new List<RefusalCount>();
            while (reader.Read())
            {
                list.Add(new RefusalCount(reader.GetString(0), reader.GetInt64(1)));
            }

            return list;
        }
    }

    /// <summary>Deletes records older than <paramref name="retention"/> and beyond the newest <paramref name="maxRows"/>. Totals stay.</summary>
    public int Prune(TimeSpan retention, long maxRows)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = """
                DELETE FROM jobs WHERE started_ms < $cutoff;
                DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs ORDER BY started_ms DESC LIMIT -1 OFFSET $rows);
                """;
            command.Parameters.AddWithValue("$cutoff", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - (long)retention.TotalMilliseconds);
            command.Parameters.AddWithValue("$rows", maxRows);
            return command.ExecuteNonQuery();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            _connection.Dispose();
        }
    }

    private static List<JobRecord> ReadJobs(SqliteCommand command)
    {
        using var reader = command.ExecuteReader();
        var list = new List<JobRecord>();
        while (reader.Read())
        {
            list.Add(new JobRecord
            {
                Node = reader.GetString(0),
                Id = reader.GetInt64(1),
                StartedMs = reader.GetInt64(2),
                Identity = reader.GetString(3),
                Address = reader.GetString(4),
                FrontEnd = reader.GetString(5),
                ActionKey = reader.GetString(6),
                Compiler = reader.GetString(7),
                Source = reader.GetString(8),
                BytesIn = reader.GetInt64(9),
                BytesOut = reader.GetInt64(10),
                QueueMs = reader.GetInt64(11),
                CpuMs = reader.GetInt64(12),
                WallMs = reader.GetInt64(13),
                Cache = reader.GetString(14),
                CacheFrom = reader.GetString(15),
                ExitCode = reader.IsDBNull(16) ? null : reader.GetInt32(16),
                Refusal = reader.GetString(17),
            });
        }

        return list;
    }
}
