namespace Kiln.Server.Protocol;

/// <summary>Limits of one Kiln protocol session. A stalled or hostile peer meets one of them and is disconnected.</summary>
public sealed class KilnSessionOptions
{
    /// <summary>Longest wait for HELLO after the connection opens.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for one whole frame inside a job (JOB to the last INPUT), and for a write to drain.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for the next JOB on an idle, reused connection.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest input a job may announce, in bytes.</summary>
    public long MaxInputBytes { get; set; } = 256L << 20;

    /// <summary>
    /// After a connection error the server keeps reading (and discarding) for this long, so that its
    /// ERROR frame is read before the socket closes rather than lost to a reset.
    /// </summary>
    public TimeSpan Linger { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The node's attributes sent in WELCOME (see <c>KilnWelcome.Attributes</c>); set once the compilers are probed.</summary>
    public IReadOnlyList<string> WelcomeAttributes { get; set; } = [];

    /// <summary>
    /// The node's local socket, told in WELCOME (<c>local=PORT,UID,NETNS,PATH</c>) to loopback and local-socket
    /// peers only (a remote client has no use for a path on this machine); null when there is none.
    /// </summary>
    public Kiln.Core.Protocol.KilnLocalSocket? LocalSocket { get; set; }
}
