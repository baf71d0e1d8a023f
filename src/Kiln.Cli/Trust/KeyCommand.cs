using Kiln.Core.Trust;

namespace Kiln.Cli.Trust;

/// <summary><c>kiln key new | show</c>: the signing key that attests what this user or node built.</summary>
internal static class KeyCommand
{
    private const string Help = """
        kiln key new [--file FILE] [--force]   make an Ed25519 signing key (file mode 0600)
        kiln key show [--file FILE]            print the public key and its short id

        The default file is $KILN_CONFIG/signing.key (~/.config/kiln/signing.key). A node's key is
        DATA/keys/node.key and is made on the node's first start. Give the 'show' line to the people
        who should trust you: they run 'kiln trust add OWNER ed25519:...'.

        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            stdout.Write(Help);
            return args.Length == 0 ? 2 : 0;
        }

        var file = TrustPaths.DefaultKeyFile;
        var force = false;
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--file" when i + 1 < args.Length:
                    file = args[++i];
                    break;
                case "--force":
                    force = true;
                    break;
                default:
                    stderr.WriteLine($"kiln key: unknown option '{args[i]}'. Run 'kiln key --help'.");
                    return 2;
            }
        }

        switch (args[0])
        {
            case "new":
                if (File.Exists(file))
                {
                    if (!force)
                    {
                        stderr.WriteLine($"kiln key: {file} already exists; 'kiln key show' prints it, '--force' replaces it (attestations it signed stay valid only while others trust its public key)");
                        return 1;
                    }

                    File.Delete(file);
                }

                var key = SigningKey.Generate();
                key.Save(file);
                stdout.WriteLine($"new key {key.PublicKey.Id} written to {file} (mode 0600)");
                stdout.WriteLine(key.PublicKey.ToString());
                return 0;
            case "show":
                var loaded = SigningKey.Load(file, out var error);
                if (loaded is null)
                {
                    stderr.WriteLine($"kiln key: {error}" + (File.Exists(file) ? "" : "; 'kiln key new' makes one"));
                    return 1;
                }

                stdout.WriteLine($"{loaded.PublicKey} {loaded.PublicKey.Id}");
                return 0;
            default:
                stderr.WriteLine($"kiln key: unknown subcommand '{args[0]}' (new, show)");
                return 2;
        }
    }
}
