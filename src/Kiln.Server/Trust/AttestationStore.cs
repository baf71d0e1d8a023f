using Kiln.Core.Hashing;
using Kiln.Core.Trust;
using Microsoft.Data.Sqlite;

namespace Kiln.Server.Trust;

/// <summary>
/// The node's attestations, in their own table of the node's SQLite index, apart from the results
/// they speak of: signatures can arrive before, after or without the result. Only verified
/// attestations are stored (see <see cref="AttestationIntake"/>); each row keeps the signed wire
/// form, so what is served to peers is byte for byte what was signed. Rows are numbered in arrival
/// order, which is the cursor peers pull by. Thread-safe (one connection under a lock).
/// </summary>
public sealed class AttestationStore : IDisposable
{
    /// <summary>The file name of the node's SQLite index, shared with the content store.</summary>
    public const string IndexFile = "index.sqlite";

    private readonly SqliteConnection _db;
    private readonly Lock _gate = new();
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _forAction;

    /// <summary>Opens (creating the table when absent) the attestations of the node whose data directory is <paramref name="directory"/>.</summary>
    public AttestationStore(string directory)
    {
        Directory.CreateDirectory(directory);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(directory, IndexFile),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        _db.Open();
        Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
        Execute("""
            CREATE TABLE IF NOT EXISTS attestations(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                action BLOB NOT NULL,
                result_hash BLOB NOT NULL,
                result_size INTEGER NOT NULL,
                key_id TEXT NOT NULL,
                how INTEGER NOT NULL,
                time INTEGER NOT NULL,
                encoded BLOB NOT NULL,
                source TEXT NOT NULL,
                received INTEGER NOT NULL,
                UNIQUE(action, key_id, result_hash, how, time));
            CREATE INDEX IF NOT EXISTS attestations_by_key ON attestations(key_id, action);
            """);
        _insert = Prepare(
            "INSERT OR IGNORE INTO attestations(action, result_hash, result_size, key_id, how, time, encoded, source, received) " +
            "VALUES($a, $rh, $rs, $k, $h, $t, $e, $s, $r)",
            "$a", "$rh", "$rs", "$k", "$h", "$t", "$e", "$s", "$r");
        _forAction = Prepare("SELECT encoded FROM attestations WHERE action = $a ORDER BY seq", "$a");
    }

    /// <summary>Stores a verified attestation; false when it was already there.</summary>
    public bool Add(Attestation attestation, string source)
    {
        var encoded = attestation.Encode();
        lock (_gate)
        {
            _insert.Parameters[0].Value = KeyBytes(attestation.Action);
            _insert.Parameters[1].Value = attestation.Result.HashBytes();
            _insert.Parameters[2].Value = attestation.Result.Size;
            _insert.Parameters[3].Value = attestation.KeyId;
            _insert.Parameters[4].Value = (int)attestation.How;
            _insert.Parameters[5].Value = attestation.Time.ToUnixTimeMilliseconds();
            _insert.Parameters[6].Value = encoded;
            _insert.Parameters[7].Value = source;
            _insert.Parameters[8].Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            return _insert.ExecuteNonQuery() > 0;
        }
    }

    /// <summary>Every attestation about <paramref name="action"/>, in arrival order.</summary>
    public List<Attestation> ForAction(ActionKey action)
    {
        lock (_gate)
        {
            _forAction.Parameters[0].Value = KeyBytes(action);
            return ReadEncoded(_forAction);
        }
    }

    /// <summary>Up to <paramref name="limit"/> attestations that arrived after row <paramref name="after"/>, with the last row number read.</summary>
    public (List<Attestation> Attestations, long Last) Since(long after, int limit)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT seq, encoded FROM attestations WHERE seq > $s ORDER BY seq LIMIT $n";
            cmd.Parameters.AddWithValue("$s", after);
            cmd.Parameters.AddWithValue("$n", limit);
            var list = new List<Attestation>();
            var last = after;
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                last = reader.GetInt64(0);
                if (Attestation.Decode((byte[])reader.GetValue(1)) is { } a)
                {
                    list.Add(a);
                }
            }

            return (list, last);
        }
    }

    /// <summary>Up to <paramref name="limit"/> actions with attestations for two or more different results.</summary>
    public List<ActionKey> Contested(int limit)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT action FROM attestations GROUP BY action HAVING COUNT(DISTINCT result_hash) > 1 ORDER BY MIN(seq) LIMIT $n";
            cmd.Parameters.AddWithValue("$n", limit);
            return ReadKeys(cmd);
        }
    }

    /// <summary>
    /// Actions first attested after row <paramref name="after"/> that <paramref name="keyId"/> has not
    /// signed (up to <paramref name="limit"/>), and the last row number looked at.
    /// </summary>
    public (List<ActionKey> Actions, long Last) NotSignedBy(string keyId, long after, int limit)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                SELECT seq, action FROM attestations a WHERE seq > $s
                  AND NOT EXISTS (SELECT 1 FROM attestations b WHERE b.key_id = $k AND b.action = a.action)
                ORDER BY seq LIMIT $n
                """;
            cmd.Parameters.AddWithValue("$s", after);
            cmd.Parameters.AddWithValue("$k", keyId);
            cmd.Parameters.AddWithValue("$n", limit);
            var actions = new List<ActionKey>();
            var seen = new HashSet<ActionKey>();
            var last = after;
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                last = reader.GetInt64(0);
                var key = ActionKey.FromBytes((byte[])reader.GetValue(1));
                if (seen.Add(key))
                {
                    actions.Add(key);
                }
            }

            return (actions, last);
        }
    }

    /// <summary>The number of stored attestations.</summary>
    public long Count()
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM attestations";
            return (long)cmd.ExecuteScalar()!;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            _insert.Dispose();
            _forAction.Dispose();
            _db.Dispose();
        }
    }

    private static byte[] KeyBytes(ActionKey key)
    {
        var bytes = new byte[ActionKey.Length];
        key.WriteTo(bytes);
        return bytes;
    }

    private static List<Attestation> ReadEncoded(SqliteCommand cmd)
    {
        var list = new List<Attestation>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            if (Attestation.Decode((byte[])reader.GetValue(0)) is { } a)
            {
                list.Add(a);
            }
        }

        return list;
    }

    private static List<ActionKey> ReadKeys(SqliteCommand cmd)
    {
        var list = new List<ActionKey>();
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            list.Add(ActionKey.FromBytes((byte[])reader.GetValue(0)));
        }

        return list;
    }

    private SqliteCommand Prepare(string sql, params string[] names)
    {
        var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var n in names)
        {
            cmd.Parameters.Add(new SqliteParameter { ParameterName = n });
        }

        cmd.Prepare();
        return cmd;
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
