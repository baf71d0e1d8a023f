using System.IO.Pipelines;
using Kiln.Core.Security;
using Kiln.Server.Compile;
using Kiln.Server.Hosting;
using Kiln.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kiln.Server.Protocol;

/// <summary>
/// <c>kiln serve --stdio</c>: one Kiln protocol session on standard input and output, then exit. This
/// is the far end of ssh mode (<c>@host</c> in <c>KILN_HOSTS</c>): the client runs
/// <c>ssh host kiln serve --stdio</c> and speaks the protocol in the clear over the ssh channel, which
/// authenticates both ends and encrypts. No listener, no web host: the session needs the compile
/// executor (with the node's sandbox and limits) and nothing else, so a session starts in the time
/// the process takes to start.
/// </summary>
public static class KilnStdioServer
{
    /// <summary>Serves one session on <paramref name="input"/> and <paramref name="output"/> until the client closes its end.</summary>
    public static async Task<int> RunAsync(KilnNodeOptions options, Stream input, Stream output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.DataDirectory);
        using var executor = NodeExecutor.Create(options, new NodeCounters(), warmSandboxes: false);

        // sshd names the client in SSH_CLIENT ("address port local-port"); logs and the audit use it.
        var sshClient = Environment.GetEnvironmentVariable("SSH_CLIENT");
        var peer = string.IsNullOrEmpty(sshClient) ? "stdio" : "ssh:" + sshClient.Split(' ')[0];
        var transport = new StdioPipe(PipeReader.Create(input), PipeWriter.Create(output));

        // OpenSSH authenticated the user and runs this process as them: they are who the jobs are for,
        // and every job and refusal goes to DATA/audit.jsonl as the network listener's do.
        using var audit = new AuditLog(options, NullLogger<AuditLog>.Instance);
        var user = Environment.UserName;
        var access = KilnSessionAccess.Trusted(new Identity("ssh", "ssh:" + user, Role.Execute), audit, "ssh", peer);
        var session = new KilnSession(executor, options.KilnProtocol, options.NodeName, NullLogger.Instance, transport, peer, cache: null, access);
        await session.RunAsync(cancellationToken).ConfigureAwait(false);
        await transport.Output.CompleteAsync().ConfigureAwait(false);
        await transport.Input.CompleteAsync().ConfigureAwait(false);
        return 0;
    }
}
