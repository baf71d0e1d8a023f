using System.Net;

namespace Kiln.Server.Hosting;

/// <summary>Configuration of one <c>kiln serve</c> node. Defaults are the embedded single-machine node.</summary>
public sealed class KilnNodeOptions
{
    /// <summary>The node's data directory (store, index, keys, job directories).</summary>
    public string DataDirectory { get; set; } = DefaultDataDirectory();

    /// <summary>Kiln protocol listener (default 127.0.0.1:3635).</summary>
    public IPEndPoint Listen { get; set; } = new(IPAddress.Loopback, 3635);

    /// <summary>HTTP listener: dashboard, API, metrics, cache front ends (default 127.0.0.1:3633).</summary>
    public IPEndPoint? Http { get; set; } = new(IPAddress.Loopback, 3633);

    /// <summary>gRPC (h2c) listener for the Bazel Remote Execution API (default off until configured).</summary>
    public IPEndPoint? Grpc { get; set; }

    /// <summary>distcc listener; null means off (the distcc protocol cannot authenticate).</summary>
    public IPEndPoint? Distcc { get; set; }

    /// <summary>Networks allowed on the distcc listener (default: loopback only).</summary>
    public List<IPNetwork> Allow { get; } = [];

    /// <summary>
    /// Also serve the Kiln protocol without TLS, to loopback peers only (<c>--plaintext-loopback</c>):
    /// for benchmarks and tests on one machine. Off by default; remote peers always need TLS.
    /// </summary>
    public bool PlaintextLoopback { get; set; }

    /// <summary>
    /// The Kiln protocol on a Unix socket for this machine's clients (DESIGN.md's local listener), or
    /// null for none. <c>kiln serve</c> puts it at <c>DATA/local/kiln.sock</c> unless told
    /// <c>--local-socket off</c>; the directory is the node user's alone (0700). Clients learn the path
    /// from WELCOME on a loopback connection and then skip TCP and TLS (docs/architecture.md).
    /// </summary>
    public string? LocalSocket { get; set; }

    /// <summary>Where <c>kiln serve</c> puts the local socket by default.</summary>
    public static string DefaultLocalSocket(string dataDirectory) => Path.Combine(dataDirectory, "local", "kiln.sock");

    /// <summary>Compile slots (default: the number of cores).</summary>
    public int Slots { get; set; } = Environment.ProcessorCount;

    /// <summary>Keeps a sandbox set up per slot before its job arrives (CompileExecutor's warm sandboxes).</summary>
    public bool WarmSandboxes { get; set; } = true;

    /// <summary>The cache's size cap in bytes (blobs beyond it are evicted, least recently used first).</summary>
    public long CacheSizeBytes { get; set; } = Kiln.Core.Cas.ContentStoreOptions.DefaultCapacityBytes;

    /// <summary>A name for this node in logs and discovery.</summary>
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>Timeouts and limits of Kiln protocol sessions.</summary>
    public Protocol.KilnSessionOptions KilnProtocol { get; } = new();

    /// <summary>Announce the node by DNS-SD over multicast DNS (<c>_kiln._tcp</c>; <c>_distcc._tcp</c> too when the distcc listener is on).</summary>
    public bool Zeroconf { get; set; }

    /// <summary>
    /// IPv4 interface addresses to announce on and to give in the A record (default: every interface
    /// that is up and can multicast, else loopback).
    /// </summary>
    public List<IPAddress> Advertise { get; } = [];

    /// <summary>
    /// Answer compile jobs (Kiln protocol, distcc protocols 1 and 2) from stored results and store new
    /// ones (<c>--result-cache on|off</c>, default on). Off, every job is compiled; the HTTP and gRPC
    /// caches serve as before.
    /// </summary>
    public bool ResultCache { get; set; } = true;

    /// <summary>
    /// Answer small ccache GETs and HEADs on the HTTP connection before Kestrel's HTTP layer
    /// (<see cref="Cache.CcacheFastPath"/>); off only to compare the two in tests.
    /// </summary>
    public bool HttpFastPath { get; set; } = true;

    /// <summary>Job records: on or off, retention, the collector to send them to.</summary>
    public Accounting.AccountingOptions Accounting { get; } = new();

    /// <summary>Keys, policies, peers and rebuild checking (see docs/trust.md).</summary>
    public Trust.TrustOptions Trust { get; } = new();

    /// <summary>Niceness compilers run at (<c>--nice N</c>): a workstation lending its cores keeps its owner's work first.</summary>
    public int Nice { get; set; }

    /// <summary>When Kiln protocol jobs get BUSY: queue depth, load from other work, free memory and disk.</summary>
    public Scheduling.AdmissionOptions Admission { get; } = new();

    /// <summary>Directories of allowed compilers (<c>--compiler-dir</c>; default /usr/local/bin and /usr/bin); the node advertises what they hold.</summary>
    public List<string> CompilerDirectories { get; } = [];

    /// <summary>Operator tags (<c>--tag KEY=VALUE</c>), advertised in TXT and WELCOME for <c>,KEY=VALUE</c> filters in host lists.</summary>
    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    /// <summary>The job sandbox and per-job limits (<c>--sandbox</c>, <c>--job-cpu</c>, <c>--job-memory</c>, <c>--job-output</c>).</summary>
    public Compile.JobLimits Jobs { get; } = new();

    /// <summary>Serve one Kiln protocol session on standard input and output (ssh mode), then exit.</summary>
    public bool Stdio { get; set; }

    /// <summary>Where a node keeps its data when none is given: $XDG_DATA_HOME/kiln or ~/.local/share/kiln.</summary>
    public static string DefaultDataDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var baseDir = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : xdg;
        return Path.Combine(baseDir, "kiln");
    }

    /// <summary>The networks the distcc listener serves: the configured ones, else loopback.</summary>
    public IReadOnlyList<IPNetwork> EffectiveAllow() =>
        Allow.Count > 0 ? Allow : [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];
}
