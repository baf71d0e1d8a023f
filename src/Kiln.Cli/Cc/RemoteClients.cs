using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Core.Security;
using Kiln.Core.Ssh;

namespace Kiln.Cli.Cc;

/// <summary>Chooses the protocol client for a host: the Kiln protocol, distcc's, or the Kiln protocol over ssh.</summary>
internal static class RemoteClients
{
    // One of each per process: `kiln cc` runs one compile, so they live as long as it does.
    private static readonly Lazy<KilnProtocolClient> s_kiln = new(() => new KilnProtocolClient(KilnOptions(Environment.GetEnvironmentVariable)));
    private static readonly Lazy<DistccClient> s_distcc = new(() => new DistccClient());
    private static readonly Lazy<KilnSshClient> s_ssh = new(() => new KilnSshClient(
        SshClientOptions.FromEnvironment(Environment.GetEnvironmentVariable, CcSettings.StateDirectoryFrom(Environment.GetEnvironmentVariable))));

    /// <summary>
    /// The name nodes account this user's jobs to: KILN_USER, else the login name as USER gives it, else
    /// the password database's (not authenticated until tokens exist). USER first because asking the
    /// database costs every remote compile nsswitch.conf, two tries at nscd's socket and /etc/passwd.
    /// </summary>
    internal static string UserName() =>
        Environment.GetEnvironmentVariable("KILN_USER") is { Length: > 0 and <= 256 } user ? user
        : Environment.GetEnvironmentVariable("USER") is { Length: > 0 and <= 256 } login ? login
        : Environment.UserName;

    /// <summary>The client that speaks <paramref name="host"/>'s protocol.</summary>
    public static IRemoteCompileClient For(HostSpec host) =>
        host.Kind == HostKind.Ssh ? s_ssh.Value : host.Protocol == HostProtocol.Distcc ? s_distcc.Value : s_kiln.Value;

    /// <summary>
    /// The Kiln protocol client's settings: KILN_TOKEN, the known-hosts file KILN_DIR/known_hosts
    /// (trust on first use, said on stderr), the client certificate when one was made, a local node's
    /// socket, and the agent that holds TLS connections (KILN_AGENT=0 turns it off).
    /// </summary>
    public static KilnClientOptions KilnOptions(Func<string, string?> variable) => new()
    {
        Token = variable("KILN_TOKEN") ?? "",
        ClientName = UserName(),
        KnownHosts = new KnownHosts(Path.Combine(CcSettings.StateDirectoryFrom(variable), "known_hosts")),
        Notice = Console.Error.WriteLine,
        ClientCertificateFile = ClientCertificates.Existing(variable),
        SkipSystemCaBundle = true,
        SynchronousReplyWait = CcSettings.SynchronousReplyWait(variable),
        LocalSocket = variable("KILN_LOCAL_SOCKET") == "0" ? null : LocalSocketOf(CcSettings.StateDirectoryFrom(variable)),
        Agent = AgentLauncher.Route(variable),
    };

    /// <summary>
    /// A node's local socket from its facts (its last WELCOME said <c>local=</c>). A day old is still
    /// worth a try: a socket that is gone costs a failed connect, and the compile goes by TCP.
    /// </summary>
    private static Func<HostSpec, KilnLocalSocket?> LocalSocketOf(string stateDirectory) => host =>
        NodeFacts.Read(stateDirectory, host, TimeSpan.FromDays(1)) is { } facts
        && facts.Attributes.TryGetValue(KilnLocalSocket.AttributeName, out var value)
        && KilnLocalSocket.TryParse(value, out var local)
            ? local
            : null;

    /// <summary>Handshakes with Kiln nodes on the same client (so a handshake's connection carries the job).</summary>
    public static INodeHandshake Handshake { get; } = new KilnHandshake(() => s_kiln.Value);
}
