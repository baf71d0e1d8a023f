using System.Globalization;
using Kiln.Core.Discovery;

namespace Kiln.Server.Discovery;

/// <summary>
/// The DNS-SD registrations of a node: <c>_kiln._tcp</c> always, <c>_distcc._tcp</c> (with distcc's
/// stock TXT keys and its compiler subtype) when the distcc listener is on.
/// </summary>
public static class NodeAdvertisement
{
    /// <summary>The host label for a node name: lower case, [a-z0-9-] only, at most 63 bytes; "kiln" when nothing is left.</summary>
    public static string HostLabel(string nodeName)
    {
        var chars = nodeName.ToLowerInvariant().Select(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' ? c : '-').ToArray();
        var label = new string(chars).Trim('-');
        if (label.Length > DnsName.MaxLabelLength)
        {
            label = label[..DnsName.MaxLabelLength].TrimEnd('-');
        }

        return label.Length > 0 ? label : "kiln";
    }

    /// <summary>The registrations for the node as it is now (free slots are read at each call).</summary>
    public static IReadOnlyList<ServiceRegistration> Registrations(
        string nodeName, string hostName, int kilnPort, int? distccPort, int slots, int freeSlots, CompilerFacts compilers)
    {
        var instance = nodeName.Length > DnsName.MaxLabelLength ? nodeName[..DnsName.MaxLabelLength] : nodeName;
        var invariant = CultureInfo.InvariantCulture;
        var kiln = new ServiceRegistration(instance, ServiceTypes.Kiln, hostName, (ushort)kilnPort,
        [
            new("txtvers", "1"),
            new("node", nodeName),
            new("slots", slots.ToString(invariant)),
            new("free", freeSlots.ToString(invariant)),
            new("targets", string.Join(',', compilers.Targets)),
            new("cc_version", compilers.Version),
            new("protocols", distccPort is null ? "kiln" : "kiln,distcc"),
            new("cache", "1"),
        ]);
        if (distccPort is not { } port)
        {
            return [kiln];
        }

        // distccd --zeroconf's keys (distcc's src/zeroconf-reg.c), so stock distcc clients and
        // scripts that read them see a Kiln node as a distccd.
        var distcc = new ServiceRegistration(instance, ServiceTypes.Distcc, hostName, (ushort)port,
        [
            new("txtvers", "1"),
            new("cpus", Environment.ProcessorCount.ToString(invariant)),
            new("jobs", slots.ToString(invariant)),
            new("distcc", "kiln"),
            new("gnuhost", compilers.Machine),
            new("cc_version", compilers.Version),
            new("cc_machine", compilers.Machine),
        ])
        {
            Subtypes = [MulticastDns.DistccSubtype(compilers.Machine, compilers.Version)],
        };
        return [kiln, distcc];
    }
}
