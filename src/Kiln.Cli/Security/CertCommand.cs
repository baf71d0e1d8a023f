using Kiln.Cli.Cc;
using Kiln.Core.Security;

namespace Kiln.Cli.Security;

/// <summary><c>kiln cert</c>: this client's TLS certificate (made on first use), which <c>kiln cc</c> offers to nodes.</summary>
internal static class CertCommand
{
    private const string Help = """
        kiln cert [--file FILE]   make (first time) and show this client's TLS certificate

        The default file is $KILN_CLIENT_CERT, else KILN_DIR/tls/client.pfx (~/.cache/kiln). kiln cc
        offers it to every node; a node's admin grants it a role with
        'kiln token cert FINGERPRINT --role execute'. A token (KILN_TOKEN) does the same job.

        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var file = ClientCertificates.DefaultFile(Environment.GetEnvironmentVariable);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.Write(Help);
                    return 0;
                case "--file" when i + 1 < args.Length:
                    file = args[++i];
                    break;
                default:
                    stderr.WriteLine($"kiln cert: unknown option '{args[i]}'. Run 'kiln cert --help'.");
                    return 2;
            }
        }

        using var certificate = NodeCertificate.LoadOrCreateAt(file, Environment.UserName + "-client", out var created);
        stdout.WriteLine(NodeCertificate.Fingerprint(certificate));
        stderr.WriteLine(created ? $"kiln cert: new client certificate in {file}" : $"kiln cert: client certificate in {file}");
        return 0;
    }
}
