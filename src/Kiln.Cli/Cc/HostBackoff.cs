using Kiln.Core.Hosts;

namespace Kiln.Cli.Cc;

/// <summary>
/// Leaves a failed node alone for a while, across every <c>kiln cc</c> process of this user, as
/// distcc's backoff.c does: a marker file <c>backoff/KIND_HOST_PORT</c> under KILN_DIR whose age is the
/// time since the failure. The process that writes a fresh marker reports the failure; processes that
/// find a fresh marker skip the node without a word, so a build prints one line per failure.
/// </summary>
internal sealed class HostBackoff
{
    private readonly string _directory;
    private readonly TimeSpan _period;

    /// <summary>Markers under <paramref name="stateDirectory"/>; a zero <paramref name="period"/> disables backoff.</summary>
    public HostBackoff(string stateDirectory, TimeSpan period)
    {
        _directory = Path.Combine(stateDirectory, "backoff");
        _period = period;
    }

    /// <summary>The backoff period.</summary>
    public TimeSpan Period => _period;

    /// <summary>The marker file of a host.</summary>
    public string MarkerPath(HostSpec host) => Path.Combine(_directory, host.Kind switch
    {
        HostKind.Ssh => "ssh_" + host.Host.Replace('/', '_'),
        _ => "tcp_" + host.Host.Replace('/', '_') + "_" + host.EffectivePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    /// <summary>True when the host failed less than a period ago.</summary>
    public bool IsBackedOff(HostSpec host) => _period > TimeSpan.Zero && PeriodMarker.IsFresh(MarkerPath(host), _period);

    /// <summary>
    /// Records a failure of <paramref name="host"/>. True when this process is the one to report it
    /// (it wrote a fresh marker, or backoff is disabled and there is no marker to share).
    /// </summary>
    public bool RecordFailure(HostSpec host, string reason) =>
        _period <= TimeSpan.Zero || PeriodMarker.TryClaim(MarkerPath(host), _period, reason + "\n");
}
