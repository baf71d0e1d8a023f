using Kiln.Core.Security;
using Kiln.Server.Hosting;
using Kiln.Server.Security;

namespace Kiln.Cli.Security;

/// <summary>
/// <c>kiln token create | list | revoke | cert</c>: the node's bearer tokens and granted client
/// certificates, kept in DATA/tokens. Whoever can write the node's data directory is its admin, so
/// these work on the file directly; a running node sees changes at its next request.
/// </summary>
internal static class TokenCommand
{
    private const string Help = """
        kiln token create --role ROLE [--name NAME] [--data DIR]
                                        make a token and print it (shown once; the node keeps its hash)
        kiln token list [--data DIR]    list tokens and certificates: id, role, name
        kiln token revoke ID [--data DIR]
                                        remove a token or certificate at once
        kiln token cert SHA256HEX --role ROLE [--name NAME] [--data DIR]
                                        grant ROLE to the TLS client certificate with that fingerprint
                                        ('kiln cert' prints a client's own)

        ROLE is read (cache GETs), write (cache PUTs too), execute (compile jobs too) or admin
        (everything, /api/tokens). DIR is the node's data directory (default ~/.local/share/kiln).
        A node with no tokens trusts loopback clients; the first token ends that, so give your own
        client one too: KILN_TOKEN=... for kiln cc, Authorization: Bearer / user:TOKEN@ URLs for
        ccache, Bazel and curl.

        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            stdout.Write(Help);
            return args.Length == 0 ? 2 : 0;
        }

        var data = KilnNodeOptions.DefaultDataDirectory();
        Role? role = null;
        string? name = null;
        var positional = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data" when i + 1 < args.Length:
                    data = Path.GetFullPath(args[++i]);
                    break;
                case "--name" when i + 1 < args.Length:
                    name = args[++i];
                    break;
                case "--role" when i + 1 < args.Length:
                    var text = args[++i];
                    if (!Enum.TryParse<Role>(text, ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed) || char.IsDigit(text[0]))
                    {
                        stderr.WriteLine($"kiln token: --role {text}: expected read, write, execute or admin");
                        return 2;
                    }

                    role = parsed;
                    break;
                default:
                    if (args[i].StartsWith('-'))
                    {
                        stderr.WriteLine($"kiln token: unknown option '{args[i]}'. Run 'kiln token --help'.");
                        return 2;
                    }

                    positional.Add(args[i]);
                    break;
            }
        }

        var store = new TokenStore(NodeAuthenticator.TokenFile(data));
        try
        {
            switch (args[0])
            {
                case "create" when role is not null && positional.Count == 0:
                    var token = store.Create(role.Value, name ?? $"{NodeAuthenticator.RoleName(role.Value)}-{DateTime.UtcNow:yyyyMMddHHmmss}");
                    stdout.WriteLine(token);
                    stderr.WriteLine($"kiln token: {NodeAuthenticator.RoleName(role.Value)} token made in {NodeAuthenticator.TokenFile(data)}; it is shown only now. Clients: KILN_TOKEN={token}");
                    return 0;
                case "cert" when role is not null && positional.Count == 1:
                    var id = store.AddCertificate(positional[0], role.Value, name ?? "client-certificate");
                    stdout.WriteLine(id);
                    return 0;
                case "list" when positional.Count == 0:
                    foreach (var identity in store.List())
                    {
                        stdout.WriteLine($"{identity.Id}\t{NodeAuthenticator.RoleName(identity.Role)}\t{identity.Name}");
                    }

                    return 0;
                case "revoke" when positional.Count == 1:
                    if (store.Revoke(positional[0]))
                    {
                        stdout.WriteLine($"revoked {positional[0]}");
                        return 0;
                    }

                    stderr.WriteLine($"kiln token: no token or certificate with id '{positional[0]}' ('kiln token list' shows the ids)");
                    return 1;
                default:
                    stderr.WriteLine($"kiln token: '{string.Join(' ', args)}' is not a token command. Run 'kiln token --help'.");
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"kiln token: {e.Message}");
            return 2;
        }
    }
}
