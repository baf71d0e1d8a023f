namespace Kiln.Cli.Trust;

/// <summary>Where a user's signing key and trust list live: $KILN_CONFIG, else $XDG_CONFIG_HOME/kiln, else ~/.config/kiln.</summary>
internal static class TrustPaths
{
    public static string ConfigDirectory
    {
        get
        {
            var explicitDir = Environment.GetEnvironmentVariable("KILN_CONFIG");
            if (!string.IsNullOrEmpty(explicitDir))
            {
                return explicitDir;
            }

            var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            var root = string.IsNullOrEmpty(xdg)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config")
                : xdg;
            return Path.Combine(root, "kiln");
        }
    }

    public static string DefaultKeyFile => Path.Combine(ConfigDirectory, "signing.key");

    public static string TrustFile => Path.Combine(ConfigDirectory, "trust");
}
