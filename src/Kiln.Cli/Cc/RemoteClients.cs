using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Core.Ssh;

namespace Kiln.Cli.Cc;

/// <summary>Chooses the protocol client for a host: the Kiln protocol, distcc's, or the Kiln protocol over ssh.</summary>
internal static class RemoteClients
{
    // One of each per process: `kiln cc` runs one compile, so they live as long as it does.
    private static readonly Lazy<KilnProtocolClient> s_kiln = new(() => new KilnProtocolClient());
    private static readonly Lazy<DistccClient> s_distcc = new(() => new DistccClient());
    private static readonly Lazy<KilnSshClient> s_ssh = new(() => new KilnSshClient(
        SshClientOptions.FromEnvironment(Environment.GetEnvironmentVariable, CcSettings.StateDirectoryFrom(Environment.GetEnvironmentVariable))));

    /// <summary>The client that speaks <paramref name="host"/>'s protocol.</summary>
    public static IRemoteCompileClient For(HostSpec host) =>
        host.Kind == HostKind.Ssh ? s_ssh.Value : host.Protocol == HostProtocol.Distcc ? s_distcc.Value : s_kiln.Value;
}
