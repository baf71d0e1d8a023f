namespace Kiln.Core.Ssh;

/// <summary>How <see cref="KilnSshClient"/> runs the user's OpenSSH client.</summary>
public sealed record SshClientOptions
{
    /// <summary>The ssh command and its own options: <c>KILN_SSH</c> split at spaces (as <c>DISTCC_SSH</c>), default <c>ssh</c>.</summary>
    public IReadOnlyList<string> Command { get; init; } = ["ssh"];

    /// <summary>
    /// Where connection-sharing sockets live (<c>$KILN_DIR/ssh</c>), or null for no sharing. With a
    /// shared connection a job costs a new channel on an open connection instead of a new handshake.
    /// </summary>
    public string? ControlDirectory { get; init; }

    /// <summary>How long the shared connection stays open after its last session: 60 s covers the gaps of a build.</summary>
    public int ControlPersistSeconds { get; init; } = 60;

    /// <summary>Longest a job's exchange may take, the compile included (distcc's <c>DISTCC_IO_TIMEOUT</c> default).</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>The client's name in the node's logs.</summary>
    public string ClientName { get; init; } = "kiln";

    /// <summary>The options from the environment: <c>KILN_SSH</c>, with sharing sockets under <paramref name="stateDirectory"/>.</summary>
    public static SshClientOptions FromEnvironment(Func<string, string?> variable, string stateDirectory)
    {
        var ssh = variable("KILN_SSH");
        var command = string.IsNullOrWhiteSpace(ssh) ? ["ssh"] : ssh.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return new SshClientOptions { Command = command, ControlDirectory = Path.Combine(stateDirectory, "ssh") };
    }
}
