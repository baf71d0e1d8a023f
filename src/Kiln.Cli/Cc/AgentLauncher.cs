using System.Globalization;
using Kiln.Core.Processes;
using Kiln.Core.Protocol;

namespace Kiln.Cli.Cc;

/// <summary>
/// Where <c>kiln cc</c> finds this user's agent (<c>kiln agent</c>, Kiln.Core.Agent), and starting one
/// when none answers: <c>KILN_DIR/agent/agent.sock</c>, the directory the user's alone. The compile that
/// finds no agent starts one in the background and goes on by itself; at most one start is tried per
/// 10 s across the processes of a build, and of agents started together one keeps the socket.
/// </summary>
internal static class AgentLauncher
{
    /// <summary>How often a start may be tried, across every process of this user.</summary>
    private static readonly TimeSpan s_startPeriod = TimeSpan.FromSeconds(10);

    /// <summary>The agent's socket under <paramref name="stateDirectory"/>.</summary>
    public static string SocketPath(string stateDirectory) => Path.Combine(stateDirectory, "agent", "agent.sock");

    /// <summary>The agent's route for the Kiln protocol client, or null when KILN_AGENT=0 or the socket's path is too long.</summary>
    public static KilnAgentRoute? Route(Func<string, string?> variable)
    {
        if (variable("KILN_AGENT") == "0")
        {
            return null;
        }

        var state = CcSettings.StateDirectoryFrom(variable);
        var socket = Path.GetFullPath(SocketPath(state));
        return !UnixSocketPath.Fits(socket) ? null : new KilnAgentRoute(socket, () => Start(socket, variable("KILN_AGENT_IDLE")));
    }

    /// <summary>Starts <c>kiln-full agent</c> detached, unless a start was tried in the last 10 s.</summary>
    private static void Start(string socket, string? idle)
    {
        var directory = Path.GetDirectoryName(socket)!;
        var started = Path.Combine(directory, "started");
        try
        {
            // The cheap checks first: a build whose agent will not start pays one stat per compile.
            if (PeriodMarker.IsFresh(started, s_startPeriod) || FullProgram.PathOf() is not { } program)
            {
                return;
            }

            UnixSocketPath.CreatePrivateDirectory(directory);
            if (!PeriodMarker.TryClaim(started, s_startPeriod, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)))
            {
                return;
            }

            var log = Path.Combine(directory, "agent.log");
            if (new FileInfo(log) is { Exists: true, Length: > 1 << 20 })
            {
                File.Delete(log);
            }

            List<string> arguments = ["agent", "--socket", socket];
            if (idle is { Length: > 0 })
            {
                arguments.AddRange(["--idle", idle]);
            }

            PosixSpawn.StartDetached(program, arguments, log);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No agent then: every compile goes by itself, as with KILN_AGENT=0.
        }
    }
}
