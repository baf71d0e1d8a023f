#if !KILN_FRONT
using System.Globalization;
using System.Runtime.InteropServices;
using Kiln.Cli.Cc;
using Kiln.Core.Agent;

namespace Kiln.Cli.Agent;

/// <summary>
/// <c>kiln agent</c>: this user's agent, which holds TLS connections to Kiln nodes for <c>kiln cc</c>
/// (Kiln.Core.Agent). <c>kiln cc</c> starts it when a compile to a TLS node finds none; it can also be run
/// in the foreground, and stopped with <c>--stop</c>.
/// </summary>
internal static class AgentCommand
{
    public const string Help = """
        kiln agent: hold TLS connections to Kiln nodes for kiln cc.

        Each kiln cc is a process of its own, and TLS costs a new one about 9 ms (loading OpenSSL and the
        handshake), more than a remote cache hit. The agent is a process of yours that has done both
        already: kiln cc reaches a TLS node whose certificate fingerprint it knows (a ,fp= pin or a
        KILN_DIR/known_hosts entry) through the agent's Unix socket, and the agent splices that onto a
        TLS connection it made before, or kept from the compile before. The node sees your HELLO, token
        and jobs; the agent adds TLS and nothing else. A compile that finds no agent starts one in the background
        and goes by itself; a node on this machine is reached through its own local socket instead.

        Usage:
          kiln agent [--socket PATH] [--idle SECONDS]   run in the foreground (kiln cc starts it detached,
                                                        logging to KILN_DIR/agent/agent.log)
          kiln agent --stop [--socket PATH]             stop the running agent (compiles go by themselves
                                                        until the next one starts it again)

        Options:
          --socket PATH     where to listen (default KILN_DIR/agent/agent.sock; kiln cc looks there)
          --idle SECONDS    stop after this long without a client (default 600, as sccache's server)

        It stops by itself when idle, when its socket is removed, and when its program file changes (a
        new kiln was installed). Only processes of your user are served. KILN_AGENT=0 in kiln cc's
        environment keeps every compile off it; KILN_AGENT_IDLE sets --idle for the agents kiln cc starts.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var socket = AgentLauncher.SocketPath(CcSettings.StateDirectoryFrom(Environment.GetEnvironmentVariable));
        var idle = TimeSpan.FromMinutes(10);
        var stopOnly = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    Console.Out.Write(Help);
                    return 0;
                case "--stop":
                    stopOnly = true;
                    break;
                case "--socket" when i + 1 < args.Length:
                    socket = args[++i];
                    break;
                case "--idle" when i + 1 < args.Length:
                    if (!double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds is <= 0 or > 7 * 86400)
                    {
                        Console.Error.WriteLine($"kiln agent: --idle takes seconds between 0 and a week, not '{args[i]}'");
                        return 2;
                    }

                    idle = TimeSpan.FromSeconds(seconds);
                    break;
                default:
                    Console.Error.WriteLine($"kiln agent: unknown option '{args[i]}'. Run 'kiln agent --help' for the options.");
                    return 2;
            }
        }

        socket = Path.GetFullPath(socket);
        if (!Kiln.Core.Protocol.UnixSocketPath.Fits(socket))
        {
            Console.Error.WriteLine($"kiln agent: {socket} is longer than a Unix socket's {Kiln.Core.Protocol.UnixSocketPath.MaxBytes} bytes (give --socket a shorter path)");
            return 2;
        }

        var directory = Path.GetDirectoryName(socket)!;
        var lockFile = Path.Combine(directory, "agent.lock");
        return stopOnly ? await StopAsync(socket, lockFile).ConfigureAwait(false) : await ServeAsync(socket, directory, lockFile, idle).ConfigureAwait(false);
    }

    private static async Task<int> ServeAsync(string socket, string directory, string lockFile, TimeSpan idle)
    {
        // Its splice resumes where each socket read completes, as the node's handlers do: a hit through
        // the agent then wakes no pool thread on the way up or down. Nothing in KilnAgent blocks between
        // its awaits.
        Kiln.Server.Hosting.InlineSocketIo.PreferForThisProcess();
        try
        {
            Kiln.Core.Protocol.UnixSocketPath.CreatePrivateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kiln agent: {directory}: {e.Message}");
            return 1;
        }

        using var held = FileLock.TryTake(lockFile);
        if (held is null)
        {
            Console.Error.WriteLine($"kiln agent: another agent serves {socket}");
            return 0;
        }

        if (File.Exists(socket))
        {
            // Left by an agent that was killed: the lock says none runs.
            File.Delete(socket);
        }

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        var agent = new KilnAgent(
            new KilnAgentOptions { SocketPath = socket, IdleExit = idle, ProgramFile = Environment.ProcessPath },
            message => Console.Error.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm:ss} kiln agent: {message}"));
        var run = agent.RunAsync(stop.Token);
        try
        {
            await Task.WhenAny(agent.Listening, run).ConfigureAwait(false);
            if (run.IsFaulted)
            {
                await run.ConfigureAwait(false);
            }
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Console.Error.WriteLine($"kiln agent: cannot listen on {socket}: {e.Message}");
            return 1;
        }

        Console.Error.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm:ss} kiln agent: serving {socket} (pid {Environment.ProcessId}); stops after {idle.TotalSeconds:0} s without a client");
        var reason = await run.ConfigureAwait(false);
        var (served, ready, fresh, unreachable, kept) = agent.Counts;
        Console.Error.WriteLine($"{DateTime.Now:yyyy-MM-dd HH:mm:ss} kiln agent: stopped: {reason}; clients: {served} " +
            $"({ready} on a connection ready for them, {fresh} on one made for them, {unreachable} found the node unreachable); " +
            $"connections kept for the next client: {kept}");
        return 0;
    }

    /// <summary>Removes the socket (the agent sees it gone within a second and stops) and waits for its lock to be free.</summary>
    private static async Task<int> StopAsync(string socket, string lockFile)
    {
        using (var free = FileLock.TryTake(lockFile))
        {
            if (free is not null)
            {
                Console.Out.WriteLine($"kiln agent: none runs for {socket}");
                return 0;
            }
        }

        try
        {
            File.Delete(socket);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kiln agent: cannot remove {socket}: {e.Message}");
            return 1;
        }

        for (var waited = 0; waited < 100; waited++)
        {
            await Task.Delay(100).ConfigureAwait(false);
            using var free = FileLock.TryTake(lockFile);
            if (free is not null)
            {
                Console.Out.WriteLine("kiln agent: stopped");
                return 0;
            }
        }

        Console.Error.WriteLine("kiln agent: the agent removed its socket but still has clients; it stops when they are done");
        return 0;
    }
}
#endif
