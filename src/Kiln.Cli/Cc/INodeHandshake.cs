using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// Learns a Kiln node's attributes (compilers, targets, tags, slots, free slots) from its WELCOME: by
/// a handshake before any job is sent, or from the WELCOME of the compile that just ran there.
/// </summary>
internal interface INodeHandshake
{
    /// <summary>Says HELLO to <paramref name="host"/> and returns its WELCOME's attributes; null when it does not answer.</summary>
    Task<IReadOnlyList<KeyValuePair<string, string>>?> HandshakeAsync(HostSpec host, CancellationToken cancellationToken);

    /// <summary>The attributes of the latest WELCOME this process got from <paramref name="host"/>, or null.</summary>
    IReadOnlyList<KeyValuePair<string, string>>? LastWelcome(HostSpec host);
}
