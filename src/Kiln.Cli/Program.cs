using Kiln.Cli;
using Kiln.Cli.Cc;
using Kiln.Cli.Hosts;
using Kiln.Cli.Serve;

// The compile path is dispatched first, before anything else is loaded: `kiln cc` runs once per compile.
var invokedAs = Path.GetFileName(Environment.GetCommandLineArgs()[0]);
if (Masquerade.IsCompilerName(invokedAs))
{
    return CcCommand.RunMasqueraded(invokedAs, args);
}

if (args.Length > 0 && args[0] == "cc")
{
    return CcCommand.Run(args.AsSpan(1).ToArray());
}

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Out.Write(Usage.Text);
    return args.Length == 0 ? 2 : 0;
}

switch (args[0])
{
    case "serve":
        return await ServeCommand.RunAsync(args.AsSpan(1).ToArray());
    case "hosts":
        return await HostsCommand.RunAsync(args.AsSpan(1).ToArray());
    case "key":
        return Kiln.Cli.Trust.KeyCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "trust":
        return Kiln.Cli.Trust.TrustCommand.Run(args.AsSpan(1).ToArray(), Console.Out, Console.Error);
    case "version" or "--version":
        Console.Out.WriteLine($"kiln {Usage.Version}");
        return 0;
    default:
        Console.Error.WriteLine($"kiln: unknown command '{args[0]}'. Run 'kiln --help' for the list of commands.");
        return 2;
}
