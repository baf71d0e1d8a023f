using System.Globalization;
using Kiln.Core.Hosts;
using Kiln.Core.Protocol;

namespace Kiln.Cli.Cc;

/// <summary>
/// <see cref="INodeHandshake"/> over the process's <see cref="KilnProtocolClient"/>: the handshake's
/// connection then carries the job. The client is made at the first handshake, not before: a compile the
/// local cache answers needs none (its settings read the user's name, KILN_DIR/known_hosts, the agent's path).
/// </summary>
internal sealed class KilnHandshake(Func<KilnProtocolClient> clientOf) : INodeHandshake
{
    /// <inheritdoc/>
    public async Task<IReadOnlyList<KeyValuePair<string, string>>?> HandshakeAsync(HostSpec host, CancellationToken cancellationToken) =>
        Attributes(await clientOf().HandshakeAsync(host, cancellationToken).ConfigureAwait(false));

    /// <inheritdoc/>
    public IReadOnlyList<KeyValuePair<string, string>>? LastWelcome(HostSpec host) => Attributes(clientOf().LastWelcome(host));

    private static List<KeyValuePair<string, string>>? Attributes(KilnWelcome? welcome)
    {
        if (welcome is null)
        {
            return null;
        }

        var attributes = NodeFacts.FromWords(welcome.Attributes);
        attributes.Add(new("slots", welcome.Slots.ToString(CultureInfo.InvariantCulture)));
        attributes.Add(new("free", welcome.FreeSlots.ToString(CultureInfo.InvariantCulture)));
        attributes.Add(new(NodeFacts.CacheAttribute, (welcome.Capabilities & KilnCapabilities.Manifests) != 0 ? "1" : "0"));
        return attributes;
    }
}
