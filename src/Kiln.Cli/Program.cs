using Kiln.Cli;
using Kiln.Cli.Cc;
#if !KILN_FRONT
using Kiln.Cli.Debug;
using Kiln.Cli.Hosts;
using Kiln.Cli.Serve;
#endif

// The compile path is dispatched first, before anything else is loaded: `kiln cc` runs once per compile.
Kiln.Core.Diagnostics.PhaseTrace.Mark("cc", "main");
var invokedAs = Masquerade.InvokedName();
if (Masquerade.IsCompilerName(invokedAs))
{
    return await CcCommand.RunMasqueradedAsync(invokedAs, args);
}

if (args.Length > 0 && args[0] == "cc")
{
    return await CcCommand.RunAsync(args.AsSpan(1).ToArray());
}

// As a compiler launcher (CMAKE_C_COMPILER_LAUNCHER=kiln): `kiln /usr/bin/cc ARGS` is `kiln cc /usr/bin/cc ARGS`.
if (args.Length > 0 && args[0].Contains('/') && Masquerade.IsCompilerName(Path.GetFileName(args[0])))
{
    return await CcCommand.RunAsync(args);
}

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Out.Write(Usage.Text);
    return args.Length == 0 ? 2 : 0;
}

#if KILN_FRONT
// The small program stops here: every other command is the whole program's (Kiln.Front.csproj), and
// nothing below may be compiled in, or the trimmer keeps the node.
if (args[0] is "version" or "--version")
{
    Console.Out.WriteLine($"kiln {Usage.Version}");
    return 0;
}

return FullProgram.Exec(args);
#else
switch (args[0])
{
    case "serve":
        return await ServeCommand.RunAsync(args.AsSpan(1).ToArray());
    case "hosts":
        return await HostsCommand.RunAsync(args.AsSpan(1).ToArray());
    case "stats":
        return await Kiln.Cli.Stats.StatsCommand.RunAsync(args.AsSpan(1).ToArray());
    case "key":
        return Kiln.Cli.Trust.KeyCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "trust":
        return Kiln.Cli.Trust.TrustCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "status":
        return await Kiln.Cli.Observe.StatusCommand.RunAsync(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "monitor":
        return await Kiln.Cli.Observe.MonitorCommand.RunAsync(args.AsSpan(1).ToArray(), Console.Out, Console.Error, CancellationToken.None);
    case "explain":
        return Kiln.Cli.Explain.ExplainCommand.Run(args.AsSpan(1).ToArray(), Environment.GetEnvironmentVariable, Console.Out, Console.Error);
    case "challenge":
        return await Kiln.Cli.Trust.ChallengeCommand.RunAsync(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "token":
        return Kiln.Cli.Security.TokenCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "cert":
        return Kiln.Cli.Security.CertCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "agent":
        return await Kiln.Cli.Agent.AgentCommand.RunAsync(args.AsSpan(1).ToArray());
    case "masquerade":
        return MasqueradeCommand.Run(args.AsSpan(1).ToArray());
    case "debug" when args.Length > 1 && args[1] == "store-write":
        return await StoreWriteCommand.RunAsync(args.AsSpan(2).ToArray());
    case "version" or "--version":
        Console.Out.WriteLine($"kiln {Usage.Version}");
        return 0;
    default:
        Console.Error.WriteLine($"kiln: unknown command '{args[0]}'. Run 'kiln --help' for the list of commands.");
        return 2;
}
#endif
