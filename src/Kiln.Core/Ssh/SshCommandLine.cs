using System.Globalization;
using Kiln.Core.Hosts;

namespace Kiln.Core.Ssh;

/// <summary>The ssh command line that opens a Kiln session on an <c>@host</c> entry, as distcc's ssh mode runs <c>distccd --inetd</c>.</summary>
public static class SshCommandLine
{
    /// <summary>
    /// The longest control directory: a Unix socket name holds 107 bytes, %C expands to 40 hex digits,
    /// and ssh adds a 17-character suffix while it creates the socket. A longer KILN_DIR runs without
    /// connection sharing rather than failing.
    /// </summary>
    private const int MaxControlDirectory = 107 - 1 - 40 - 17;

    /// <summary>
    /// The program and arguments: <c>ssh [KILN_SSH options] -T -x -a -o BatchMode=yes -o
    /// ControlMaster=auto -o ControlPath=DIR/%C -o ControlPersist=N [-l user] -- host kiln serve --stdio</c>.
    /// <c>@host:command</c> replaces <c>kiln</c> with another path to the program.
    /// </summary>
    public static List<string> For(HostSpec host, SshClientOptions options)
    {
        var argv = new List<string>(options.Command);

        // No terminal (binary protocol), no X11 or agent forwarding (the node needs neither), and no
        // password prompt in the middle of a parallel make: keys or an agent only.
        argv.AddRange(["-T", "-x", "-a", "-o", "BatchMode=yes"]);
        if (options.ControlDirectory is { } dir && dir.Length <= MaxControlDirectory)
        {
            // %C is a hash of local host, remote host, port and user: one socket per destination.
            argv.AddRange(["-o", "ControlMaster=auto", "-o", "ControlPath=" + Path.Combine(dir, "%C"),
                "-o", "ControlPersist=" + options.ControlPersistSeconds.ToString(CultureInfo.InvariantCulture)]);
        }

        if (host.User is { Length: > 0 } user)
        {
            argv.AddRange(["-l", user]);
        }

        argv.Add("--");
        argv.Add(host.Host);
        argv.Add(string.IsNullOrEmpty(host.Command) ? "kiln" : host.Command);
        argv.Add("serve");
        argv.Add("--stdio");
        return argv;
    }
}
