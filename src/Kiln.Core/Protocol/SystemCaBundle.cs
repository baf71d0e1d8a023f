using System.Runtime.InteropServices;

namespace Kiln.Core.Protocol;

/// <summary>
/// Hides the system's CA bundle from the first TLS handshake of a process (see
/// <see cref="KilnClientOptions.SkipSystemCaBundle"/>). .NET on Linux reads the bundle's location through
/// the C library's <c>getenv</c> (OpenSSL's <c>SSL_CERT_FILE</c> and <c>SSL_CERT_DIR</c>) when it first
/// builds a certificate chain, and keeps what it loaded; pointing both at nothing for that one handshake
/// makes the load empty. The variables are put back as they were when the handshake is over, so the
/// compilers this process starts see the environment the user gave it.
/// </summary>
internal sealed partial class SystemCaBundle : IDisposable
{
    private const string FileVariable = "SSL_CERT_FILE";
    private const string DirectoryVariable = "SSL_CERT_DIR";
    private static int s_done;
    private readonly string? _file;
    private readonly string? _directory;

    private SystemCaBundle(string? file, string? directory)
    {
        _file = file;
        _directory = directory;
    }

    /// <summary>Points the two variables at nothing for the coming handshake; null after the first call or on other systems.</summary>
    public static SystemCaBundle? SkipOnce()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref s_done, 1) == 1)
        {
            return null;
        }

        // Whatever the user set (many machines set both to the system bundle) is put back afterwards.
        var saved = new SystemCaBundle(Environment.GetEnvironmentVariable(FileVariable), Environment.GetEnvironmentVariable(DirectoryVariable));
        if (SetEnv(FileVariable, "/dev/null", 1) != 0 || SetEnv(DirectoryVariable, "/nonexistent/kiln-trusts-nodes-by-fingerprint", 1) != 0)
        {
            saved.Dispose();
            return null;
        }

        return saved;
    }

    /// <summary>Puts the two variables back as they were.</summary>
    public void Dispose()
    {
        Restore(FileVariable, _file);
        Restore(DirectoryVariable, _directory);
    }

    private static void Restore(string name, string? value) => _ = value is null ? UnsetEnv(name) : SetEnv(name, value, 1);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);
}
