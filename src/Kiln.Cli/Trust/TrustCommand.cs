using Kiln.Core.Trust;

namespace Kiln.Cli.Trust;

/// <summary><c>kiln trust add | list | remove | revoke | retire</c>: the keys whose attestations count, by owner.</summary>
internal static class TrustCommand
{
    private const string Help = """
        kiln trust add OWNER ed25519:KEY   trust a key as belonging to OWNER (one word); agreement is
                                           counted in owners, so one owner's keys are one voice
        kiln trust list                    the trusted keys by owner, with their status
        kiln trust retire KEYID            rotation: the key signs no more, its past attestations count
        kiln trust revoke KEYID            compromise: none of the key's attestations count any more
        kiln trust remove KEYID            forget the key entirely

        The list is $KILN_CONFIG/trust (~/.config/kiln/trust).

        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            stdout.Write(Help);
            return args.Length == 0 ? 2 : 0;
        }

        var path = TrustPaths.TrustFile;
        var errors = new List<string>();
        var store = File.Exists(path) ? TrustStore.Parse(File.ReadAllText(path), errors) : new TrustStore();
        foreach (var e in errors)
        {
            stderr.WriteLine($"kiln trust: {path}: {e} (line ignored)");
        }

        switch (args[0])
        {
            case "add" when args.Length == 3:
                if (!PublicKey.TryParse(args[2], out var key))
                {
                    stderr.WriteLine($"kiln trust: '{args[2]}' is not a public key (expected ed25519:BASE64, as 'kiln key show' prints)");
                    return 2;
                }

                try
                {
                    store.Add(args[1], key!);
                }
                catch (ArgumentException e)
                {
                    stderr.WriteLine($"kiln trust: {e.Message}");
                    return 2;
                }

                Save(path, store);
                stdout.WriteLine($"trusting key {key!.Id} as {args[1]}");
                return 0;
            case "list" when args.Length == 1:
                if (store.Keys.Count == 0)
                {
                    stdout.WriteLine("no trusted keys ('kiln trust add OWNER ed25519:KEY' adds one)");
                    return 0;
                }

                foreach (var group in store.Keys.GroupBy(k => k.Owner).OrderBy(g => g.Key, StringComparer.Ordinal))
                {
                    stdout.WriteLine(group.Key);
                    foreach (var k in group)
                    {
                        stdout.WriteLine($"  {k.Key.Id}  {k.Status.ToString().ToLowerInvariant(),-8} {k.Key}");
                    }
                }

                return 0;
            case "retire" or "revoke" or "remove" when args.Length == 2:
                var id = args[1];
                var changed = args[0] == "remove" ? store.Remove(id) : store.SetStatus(id, args[0] == "retire" ? KeyStatus.Retired : KeyStatus.Revoked);
                if (!changed)
                {
                    stderr.WriteLine($"kiln trust: no trusted key has id '{id}' ('kiln trust list' shows them)");
                    return 1;
                }

                Save(path, store);
                stdout.WriteLine(args[0] switch
                {
                    "retire" => $"key {id} retired: its past attestations still count for its owner",
                    "revoke" => $"key {id} revoked: none of its attestations count",
                    _ => $"key {id} removed",
                });
                return 0;
            default:
                stderr.WriteLine($"kiln trust: usage: {string.Join(' ', args)} is not a trust command. Run 'kiln trust --help'.");
                return 2;
        }
    }

    private static void Save(string path, TrustStore store)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        File.WriteAllText(temp, store.Serialize());
        File.Move(temp, path, overwrite: true);
    }
}
