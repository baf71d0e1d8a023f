using System.Globalization;
using System.Text;

namespace Kiln.Cli.Explain;

/// <summary>
/// Where <c>kiln cc</c> notes why each compile ran where it did, for <c>kiln explain</c>: one line per
/// compile appended to <c>KILN_DIR/decisions.log</c> in one O_APPEND write (whole lines from
/// concurrent compiles do not interleave), moved to <c>decisions.log.1</c> once it passes
/// <see cref="RotateBytes"/>. A log that cannot be written costs the compile nothing.
/// Fields, tab-separated: time (ms since 1970), process id, working directory, source, where, decision, detail.
/// </summary>
internal sealed class DecisionLog(string stateDirectory)
{
    /// <summary>The size at which the log is rotated (about 5000 compiles).</summary>
    public const long RotateBytes = 1 << 20;

    /// <summary>The log's file name in KILN_DIR.</summary>
    public const string FileName = "decisions.log";

    /// <summary>The compile ran here: the command cannot run remotely (<paramref name="reason"/> names the option).</summary>
    public void NotDistributable(string source, string reason) => Append(source, "local", "not-distributable", reason);

    /// <summary>The compile ran here on a local slot of the host list.</summary>
    public void LocalSlot(string source, int slot) => Append(source, "localhost", "local-slot", $"localhost slot {slot} of the host list");

    /// <summary>The compile ran on <paramref name="host"/>.</summary>
    public void Remote(string source, string host, int exitCode) =>
        Append(source, host, "remote", exitCode == 0 ? "compiled on the node" : $"compiled on the node, exit {exitCode}");

    /// <summary>The compile failed on <paramref name="host"/> and ran again here to report its diagnostics.</summary>
    public void RemoteFailedRerunLocal(string source, string host, int exitCode) =>
        Append(source, "local", "remote-error-rerun", $"{host} reported exit {exitCode}; compiled here for the exact diagnostics");

    /// <summary>The result came from a cache on <paramref name="host"/>.</summary>
    public void Hit(string source, string host, string policy) => Append(source, host, "hit", policy);

    /// <summary>The compile ran here because no node could do it (<paramref name="reason"/>: no host, backed off, busy, refused, failed).</summary>
    public void Fallback(string source, string reason) => Append(source, "local", "fallback", reason);

    /// <summary>The compile was not done: no node could, and KILN_FALLBACK=0 forbids compiling here.</summary>
    public void NotCompiled(string source, string reason) => Append(source, "none", "not-compiled", reason);

    /// <summary>Preprocessing failed here, so the compile stopped before any node was asked.</summary>
    public void PreprocessFailed(string source, int exitCode) => Append(source, "local", "preprocess-failed", $"exit {exitCode}");

    private void Append(string source, string where, string decision, string detail)
    {
        var line = new StringBuilder(160)
            .Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)).Append('\t')
            .Append(Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).Append('\t')
            .Append(Clean(Environment.CurrentDirectory)).Append('\t')
            .Append(Clean(source)).Append('\t')
            .Append(Clean(where)).Append('\t')
            .Append(decision).Append('\t')
            .Append(Clean(detail)).Append('\n')
            .ToString();
        var path = Path.Combine(stateDirectory, FileName);
        var bytes = Encoding.UTF8.GetBytes(line);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                long length;
                using (var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1))
                {
                    file.Write(bytes);
                    length = file.Length;
                }

                if (length > RotateBytes)
                {
                    // Two compiles may both rotate; the second rename moves a nearly empty log, which is harmless.
                    File.Move(path, path + ".1", overwrite: true);
                }

                return;
            }
            catch (DirectoryNotFoundException) when (attempt == 0)
            {
                try
                {
                    Directory.CreateDirectory(stateDirectory);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;
            }
        }
    }

    private static string Clean(string value) =>
        value.AsSpan().IndexOfAny('\t', '\n', '\r') < 0 ? value : value.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
}
