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
        string nodeName, string hostName, int kilnPort, int? distccPort, int slots, int freeSlots, CompilerFacts compilers,
        IReadOnlyDictionary<string, string>? tags = null, bool resultCache = true)
    {
        var instance = nodeName.Length > DnsName.MaxLabelLength ? nodeName[..DnsName.MaxLabelLength] : nodeName;
        var invariant = CultureInfo.InvariantCulture;
        List<KeyValuePair<string, string>> attributes =
        [
            new("txtvers", "1"),
            new("node", nodeName),
            new("slots", slots.ToString(invariant)),
            new("free", freeSlots.ToString(invariant)),
            new("targets", string.Join(',', compilers.Targets)),
            new("cc_version", compilers.Version),
            new(Core.Compile.CompilerPlatform.AttributeName, string.Join(',', compilers.Compilers)),
            new("protocols", distccPort is null ? "kiln" : "kiln,distcc"),
            new("cache", resultCache ? "1" : "0"),
        ];
        attributes.AddRange(Tags(tags));
        var kiln = new ServiceRegistration(instance, ServiceTypes.Kiln, hostName, (ushort)kilnPort, attributes);
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

    /// <summary>
    /// The attributes a node sends in WELCOME: those of its TXT record that do not change while it runs
    /// (name, targets, compilers, operator tags), as <c>key=value</c> words.
    /// </summary>
    public static IReadOnlyList<string> WelcomeAttributes(string nodeName, CompilerFacts compilers, IReadOnlyDictionary<string, string>? tags)
    {
        List<string> words =
        [
            "node=" + nodeName,
            "targets=" + string.Join(',', compilers.Targets),
            "cc_version=" + compilers.Version,
            Core.Compile.CompilerPlatform.AttributeName + "=" + string.Join(',', compilers.Compilers),
        ];
        words.AddRange(Tags(tags).Select(t => t.Key + "=" + t.Value));
        return words;
    }

    /// <summary>Operator tags (<c>kiln serve --tag KEY=VALUE</c>), minus any that would shadow a key the node sets itself.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Tags(IReadOnlyDictionary<string, string>? tags) =>
        (tags ?? new Dictionary<string, string>()).Where(t => !ReservedKeys.Contains(t.Key)).OrderBy(t => t.Key, StringComparer.Ordinal);

    private static readonly HashSet<string> ReservedKeys = new(StringComparer.Ordinal)
    {
        "txtvers", "node", "slots", "free", "targets", "cc_version", Core.Compile.CompilerPlatform.AttributeName, "protocols", "cache",
    };
}
