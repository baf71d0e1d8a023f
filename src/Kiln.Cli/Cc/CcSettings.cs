using System.Globalization;
using Kiln.Core.Compile;

namespace Kiln.Cli.Cc;

/// <summary>What <c>kiln cc</c> reads from its environment, gathered once per compile.</summary>
internal sealed class CcSettings
{
    /// <summary>The host list used when neither KILN_HOSTS nor DISTCC_HOSTS is set: the local node.</summary>
    public const string DefaultHosts = "127.0.0.1";

    /// <summary>distcc's default backoff period (DISTCC_BACKOFF_PERIOD).</summary>
    public static readonly TimeSpan DefaultBackoffPeriod = TimeSpan.FromSeconds(60);

    /// <summary>The directory relative paths of the compile are resolved against.</summary>
    public required string WorkingDirectory { get; init; }

    /// <summary>KILN_DIR: slot locks, backoff markers and notices live under it.</summary>
    public required string StateDirectory { get; init; }

    /// <summary>The host list text.</summary>
    public required string HostsText { get; init; }

    /// <summary>Where <see cref="HostsText"/> came from: KILN_HOSTS, DISTCC_HOSTS or "the default".</summary>
    public required string HostsSource { get; init; }

    /// <summary>KILN_FALLBACK: false (KILN_FALLBACK=0) makes a compile no node could do fail instead of running locally.</summary>
    public bool Fallback { get; init; } = true;

    /// <summary>KILN_VERBOSE: one line per compile saying where it ran and why.</summary>
    public bool Verbose { get; init; }

    /// <summary>KILN_BACKOFF_PERIOD: how long a failed node is left alone; zero disables backoff.</summary>
    public TimeSpan BackoffPeriod { get; init; } = DefaultBackoffPeriod;

    /// <summary>Seed for the random choice among hosts with a free slot.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// How long a compile waits for a free slot before it compiles locally. distcc waits without end,
    /// polling each second; a bound keeps a build moving if every slot stays taken (a hung node).
    /// </summary>
    public TimeSpan SlotWait { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The pause between attempts to find a free slot. Much shorter than distcc's 1 s: a freed slot
    /// should not idle for most of a short compile (tens to hundreds of milliseconds here).
    /// </summary>
    public TimeSpan SlotPoll { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the one line about a broken host list stays said before it is said again.</summary>
    public TimeSpan NoticePeriod { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest a remote compile may take before the host counts as failed (distcc's I/O timeout is 300 s).</summary>
    public TimeSpan RemoteTimeout { get; init; } = DefaultRemoteTimeout;

    /// <summary>The default of <see cref="RemoteTimeout"/>.</summary>
    public static readonly TimeSpan DefaultRemoteTimeout = TimeSpan.FromMinutes(10);

    /// <summary>KILN_DISCOVERY_TTL (seconds): how long one browse's (or seed query's) list of nodes serves the build's compiles.</summary>
    public TimeSpan DiscoveryLifetime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a node's compilers and tags, learned from its WELCOME, are trusted before it is asked again.</summary>
    public TimeSpan FactsLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>KILN_SEEDS: HTTP addresses (HOST:PORT) of nodes to ask for the nodes they know, for networks without multicast.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    /// <summary>KILN_ZEROCONF_INTERFACES: IPv4 interface addresses to browse on (default: every interface that can multicast).</summary>
    public IReadOnlyList<System.Net.IPAddress> ZeroconfInterfaces { get; init; } = [];

    /// <summary>
    /// KILN_RACE_AFTER (seconds; 0 turns it off): a remote compile still unanswered after this long is
    /// also compiled here when a local slot is free, and the first result wins, so one slow or stalled
    /// node near the end of a build does not hold the build up.
    /// </summary>
    public TimeSpan RaceAfter { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The client's locale variables, sent so remote diagnostics use the same language.</summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>KILN_BASEDIR: absolute paths under it in a compile's arguments are rewritten relative to the working directory (see docs/cache.md).</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>KILN_CACHE_SIZE: the local cache's size cap in bytes; 0 turns the local cache off (the default for settings built in code).</summary>
    public long LocalCacheBytes { get; init; }

    /// <summary>
    /// KILN_REMOTE_DIRECT (on unless 0; off for settings built in code): ask a Kiln node for this
    /// user's manifests before preprocessing, and record them after a node's answer (docs/cache.md).
    /// </summary>
    public bool RemoteDirect { get; init; }

    /// <summary>
    /// KILN_REMOTE_PREPROCESS (on unless 0; off for settings built in code): when remote direct mode
    /// finds this compile's manifest but the files changed, let a capable node preprocess the new
    /// files itself instead of preprocessing here (docs/cache.md, remote preprocessing).
    /// </summary>
    public bool RemotePreprocess { get; init; }

    /// <summary>
    /// KILN_JOB_AHEAD (on unless 0; off for settings built in code): send a compile's JOB to a node that
    /// takes it before preprocessing here, so the node starts the compiler meanwhile (docs/protocol.md,
    /// "JOB ahead").
    /// </summary>
    public bool JobAhead { get; init; }

    /// <summary>
    /// KILN_DIGEST_CACHE (on unless 0; off for settings built in code): keep the digests of the
    /// headers direct mode hashes in KILN_DIR/file-digests, keyed by inode and times, so the next
    /// lookup stats them instead of reading them (<see cref="LocalCache.DigestCache"/>).
    /// </summary>
    public bool DigestCache { get; init; }

    /// <summary>The preprocessor's environment variables (<see cref="LocalCache.DirectMode.PreprocessorVariables"/>) that are set.</summary>
    public IReadOnlyDictionary<string, string> PreprocessorVariables { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Reads the settings through <paramref name="variable"/> (the process environment, or a test's).</summary>
    public static CcSettings FromEnvironment(Func<string, string?> variable, string workingDirectory)
    {
        var hosts = variable("KILN_HOSTS");
        var source = "KILN_HOSTS";
        if (hosts is null)
        {
            hosts = variable("DISTCC_HOSTS");
            source = "DISTCC_HOSTS";
        }

        if (hosts is null)
        {
            hosts = DefaultHosts;
            source = "the default host list";
        }

        var backoff = DefaultBackoffPeriod;
        if (int.TryParse(variable("KILN_BACKOFF_PERIOD"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            backoff = TimeSpan.FromSeconds(seconds);
        }

        var locale = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in CompileJob.LocaleVariables)
        {
            var value = variable(name);
            if (!string.IsNullOrEmpty(value))
            {
                locale[name] = value;
            }
        }

        var cacheBytes = LocalCache.LocalCompileCache.DefaultCapacityBytes;
        if (variable("KILN_CACHE_SIZE") is { Length: > 0 } size && Serve.ByteSize.TryParse(size, out var parsed))
        {
            cacheBytes = parsed;
        }

        var preprocessorVariables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in LocalCache.DirectMode.PreprocessorVariables)
        {
            if (variable(name) is { } value)
            {
                preprocessorVariables[name] = value;
            }
        }

        return new CcSettings
        {
            LocalCacheBytes = cacheBytes,
            PreprocessorVariables = preprocessorVariables,
            WorkingDirectory = workingDirectory,
            StateDirectory = StateDirectoryFrom(variable),
            HostsText = hosts,
            HostsSource = source,
            Fallback = variable("KILN_FALLBACK") != "0",
            RemoteDirect = variable("KILN_REMOTE_DIRECT") != "0",
            RemotePreprocess = variable("KILN_REMOTE_PREPROCESS") != "0",
            JobAhead = variable("KILN_JOB_AHEAD") != "0",
            DigestCache = variable("KILN_DIGEST_CACHE") != "0",
            Verbose = variable("KILN_VERBOSE") is { Length: > 0 } v && v != "0",
            BackoffPeriod = backoff,
            DiscoveryLifetime = Seconds(variable("KILN_DISCOVERY_TTL")) ?? TimeSpan.FromSeconds(5),
            RaceAfter = Seconds(variable("KILN_RACE_AFTER")) ?? TimeSpan.FromSeconds(20),
            Seeds = (variable("KILN_SEEDS") ?? "").Split([' ', ',', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries),
            ZeroconfInterfaces = [.. (variable("KILN_ZEROCONF_INTERFACES") ?? "").Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)
                .Select(a => System.Net.IPAddress.TryParse(a, out var ip) ? ip : null).OfType<System.Net.IPAddress>()],
            Seed = Environment.ProcessId ^ Environment.TickCount,
            Locale = locale,
            BaseDirectory = variable("KILN_BASEDIR") is { Length: > 0 } baseDirectory ? baseDirectory : null,
        };
    }

    /// <summary>
    /// How long the Kiln client may wait for a plaintext reply on the compile's own thread
    /// (<see cref="Core.Protocol.KilnClientOptions.SynchronousReplyWait"/>): until a straggler is raced
    /// against a local compile (KILN_RACE_AFTER), or the whole remote timeout when nothing races.
    /// </summary>
    public static TimeSpan SynchronousReplyWait(Func<string, string?> variable)
    {
        var raceAfter = Seconds(variable("KILN_RACE_AFTER")) ?? TimeSpan.FromSeconds(20);
        return variable("KILN_FALLBACK") != "0" && raceAfter > TimeSpan.Zero ? raceAfter : DefaultRemoteTimeout;
    }

    private static TimeSpan? Seconds(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0 ? TimeSpan.FromSeconds(seconds) : null;

    /// <summary>KILN_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln.</summary>
    public static string StateDirectoryFrom(Func<string, string?> variable)
    {
        var dir = variable("KILN_DIR");
        if (!string.IsNullOrEmpty(dir))
        {
            return dir;
        }

        var cache = variable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(cache))
        {
            return Path.Combine(cache, "kiln");
        }

        var home = variable("HOME");
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        }

        return Path.Combine(home, ".cache", "kiln");
    }
}
