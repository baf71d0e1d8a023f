namespace Kiln.Core.Hosts;

/// <summary>How a client reaches a host in its host list.</summary>
public enum HostKind
{
    /// <summary>Run the compiler on this machine (<c>localhost</c>).</summary>
    Local,

    /// <summary>A TCP host: a Kiln node (Kiln protocol) or a stock distccd (distcc protocol).</summary>
    Tcp,

    /// <summary><c>[user@]host</c> reached through <c>ssh host kiln serve --stdio</c>.</summary>
    Ssh,

    /// <summary><c>+zeroconf</c>: hosts found by DNS-SD browsing.</summary>
    Zeroconf,
}

/// <summary>The protocol a TCP host speaks.</summary>
public enum HostProtocol
{
    /// <summary>Kiln's own hash-first protocol.</summary>
    Kiln,

    /// <summary>distcc protocol 1 (plain), 2 (<c>,lzo</c>) or 3 (<c>,cpp,lzo</c>).</summary>
    Distcc,
}

/// <summary>One entry of a <c>KILN_HOSTS</c> / <c>DISTCC_HOSTS</c> list.</summary>
public sealed record HostSpec
{
    /// <summary>The text this entry was parsed from.</summary>
    public required string Text { get; init; }

    /// <summary>How the host is reached.</summary>
    public required HostKind Kind { get; init; }

    /// <summary>Host name or address (no brackets for IPv6); "localhost" for local.</summary>
    public string Host { get; init; } = "";

    /// <summary>TCP port; 0 means the protocol's default.</summary>
    public int Port { get; init; }

    /// <summary>User for ssh hosts, or null.</summary>
    public string? User { get; init; }

    /// <summary>Most concurrent jobs this client sends to the host.</summary>
    public int Limit { get; init; }

    /// <summary>True when the host list gave a limit (<c>/N</c>).</summary>
    public bool LimitGiven { get; init; }

    /// <summary><c>,lzo</c>: compress with LZO1X (distcc protocol 2).</summary>
    public bool Lzo { get; init; }

    /// <summary><c>,cpp</c>: pump mode, preprocessing on the server (distcc protocol 3).</summary>
    public bool Cpp { get; init; }

    /// <summary><c>,down</c>: the host is listed but not used.</summary>
    public bool Down { get; init; }

    /// <summary><c>,auth[=name]</c>: GSS-API in distcc; kept so lists parse, not used by Kiln.</summary>
    public string? Auth { get; init; }

    /// <summary>Which protocol to speak: Kiln unless <c>,distcc</c>, <c>,lzo</c> or <c>,cpp</c> says distcc.</summary>
    public HostProtocol Protocol { get; init; } = HostProtocol.Kiln;

    /// <summary>Remote command for ssh hosts (<c>@host:command</c>), or null for the default.</summary>
    public string? Command { get; init; }

    /// <summary><c>,tag=value</c> filters: the host must advertise these.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// <c>,fp=SHA256HEX</c>: the SHA-256 fingerprint (64 lowercase hex characters) the node's TLS
    /// certificate must have; null when the list pins none (the client's known-hosts file decides).
    /// </summary>
    public string? Fingerprint { get; init; }

    /// <summary>
    /// <c>,plain</c>: speak the Kiln protocol without TLS. Only for loopback benchmarks and tests: the
    /// parser refuses it for any host that is not a loopback address, and the node serves it only
    /// when started with <c>--plaintext-loopback</c>.
    /// </summary>
    public bool Plaintext { get; init; }

    /// <summary>The distcc protocol version this entry asks for.</summary>
    public int DistccVersion => Cpp ? 3 : Lzo ? 2 : 1;

    /// <summary>The port to connect to.</summary>
    public int EffectivePort => Port != 0 ? Port : Protocol == HostProtocol.Distcc ? 3632 : 3635;

    /// <summary>A short name for messages: host:port.</summary>
    public string Display => Kind switch
    {
        HostKind.Local => "localhost",
        HostKind.Ssh => "@" + (User is null ? "" : User + "@") + Host,
        HostKind.Zeroconf => "+zeroconf",
        _ => (Host.Contains(':') ? "[" + Host + "]" : Host) + ":" + EffectivePort,
    };
}
