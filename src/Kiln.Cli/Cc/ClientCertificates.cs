namespace Kiln.Cli.Cc;

/// <summary>Where this client's TLS certificate lives, and whether one was made.</summary>
internal static class ClientCertificates
{
    /// <summary>KILN_CLIENT_CERT, else KILN_DIR/tls/client.pfx.</summary>
    public static string DefaultFile(Func<string, string?> variable) =>
        variable("KILN_CLIENT_CERT") is { Length: > 0 } file ? file : Path.Combine(CcSettings.StateDirectoryFrom(variable), "tls", "client.pfx");

    /// <summary>The client certificate's file, or null when none was made ('kiln cert' makes one).</summary>
    public static string? Existing(Func<string, string?> variable)
    {
        var file = DefaultFile(variable);
        return File.Exists(file) ? Path.GetFullPath(file) : null;
    }
}
