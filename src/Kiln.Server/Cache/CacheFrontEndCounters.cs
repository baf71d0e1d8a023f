namespace Kiln.Server.Cache;

/// <summary>What one cache front end (ccache, Bazel AC, Bazel CAS) answered since the node started. Thread-safe.</summary>
public sealed class CacheFrontEndCounters
{
    private long _hits;
    private long _misses;
    private long _writes;
    private long _refused;
    private long _bytesIn;
    private long _bytesOut;

    /// <summary>GET and HEAD answered 200.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>GET and HEAD answered 404.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>PUTs stored (or already present).</summary>
    public long Writes => Interlocked.Read(ref _writes);

    /// <summary>PUTs refused: digest or size mismatch, truncated body, over-size, store full, not an ActionResult.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Bytes of stored uploads.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Bytes of GET answers.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    internal void Hit(long bytes)
    {
        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _bytesOut, bytes);
    }

    internal void Miss() => Interlocked.Increment(ref _misses);

    internal void Wrote(long bytes)
    {
        Interlocked.Increment(ref _writes);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    internal void Refuse() => Interlocked.Increment(ref _refused);
}
