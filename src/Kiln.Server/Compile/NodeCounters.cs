namespace Kiln.Server.Compile;

/// <summary>Counters a node keeps since it started, per front end. Thread-safe.</summary>
public sealed class NodeCounters
{
    private long _compilesOk;
    private long _compilesFailed;
    private long _refused;
    private long _busy;
    private long _running;
    private long _maxRunning;
    private long _bytesIn;
    private long _bytesOut;
    private long _protocolErrors;
    private long _distccJobs;
    private long _kilnJobs;
    private long _preprocessedHere;

    /// <summary>Compiles that ran and exited 0.</summary>
    public long CompilesOk => Interlocked.Read(ref _compilesOk);

    /// <summary>Compiles that ran and exited non-zero (compile errors).</summary>
    public long CompilesFailed => Interlocked.Read(ref _compilesFailed);

    /// <summary>Jobs refused (allow-list, arguments, size).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Jobs answered BUSY.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Compiles running now.</summary>
    public long Running => Interlocked.Read(ref _running);

    /// <summary>The most compiles that ran at once.</summary>
    public long MaxRunning => Interlocked.Read(ref _maxRunning);

    /// <summary>Bytes of input received in jobs.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Bytes of output sent in results.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>Connections closed for a malformed or hostile frame.</summary>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    /// <summary>Jobs received over the distcc protocol.</summary>
    public long DistccJobs => Interlocked.Read(ref _distccJobs);

    /// <summary>Jobs received over the Kiln protocol.</summary>
    public long KilnJobs => Interlocked.Read(ref _kilnJobs);

    /// <summary>Kiln jobs this node preprocessed itself (PREPROCESS, remote preprocessing), answered or not.</summary>
    public long PreprocessedHere => Interlocked.Read(ref _preprocessedHere);

    internal void CountPreprocessedHere() => Interlocked.Increment(ref _preprocessedHere);

    internal void Started()
    {
        var now = Interlocked.Increment(ref _running);
        long max;
        while (now > (max = Interlocked.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, now, max) != max)
        {
        }
    }

    internal void Finished(int exitCode, long bytesIn, long bytesOut)
    {
        Interlocked.Decrement(ref _running);
        Interlocked.Increment(ref exitCode == 0 ? ref _compilesOk : ref _compilesFailed);
        Interlocked.Add(ref _bytesIn, bytesIn);
        Interlocked.Add(ref _bytesOut, bytesOut);
    }

    internal void Abandoned() => Interlocked.Decrement(ref _running);

    /// <summary>Counts a refused job.</summary>
    public void CountRefused() => Interlocked.Increment(ref _refused);

    /// <summary>Counts a BUSY answer.</summary>
    public void CountBusy() => Interlocked.Increment(ref _busy);

    /// <summary>Counts a connection closed for a protocol error.</summary>
    public void CountProtocolError() => Interlocked.Increment(ref _protocolErrors);

    /// <summary>Counts a job by front end.</summary>
    public void CountJob(string frontEnd)
    {
        if (frontEnd == "distcc")
        {
            Interlocked.Increment(ref _distccJobs);
        }
        else
        {
            Interlocked.Increment(ref _kilnJobs);
        }
    }
}
