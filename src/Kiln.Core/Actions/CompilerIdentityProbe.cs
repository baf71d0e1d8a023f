using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>
/// Finds a compiler's <see cref="CompilerIdentity"/>: the digest of its driver binary and of the
/// compiler proper it runs (cc1, cc1plus), its <c>-dumpmachine</c> target and <c>-dumpversion</c>.
/// Results are memoised in a directory keyed by the driver's path, size and modification time, so a
/// compile pays for the probe once per compiler install, not once per file.
/// </summary>
public sealed class CompilerIdentityProbe(string? memoDirectory)
{
    /// <summary>Returns the identity of the compiler at <paramref name="compilerPath"/>, or null when it cannot be run.</summary>
    public CompilerIdentity? Probe(string compilerPath)
    {
        FileInfo driver;
        try
        {
            driver = new FileInfo(compilerPath);
            var target = driver.ResolveLinkTarget(returnFinalTarget: true);
            if (target is FileInfo resolved)
            {
                driver = resolved;
            }

            if (!driver.Exists)
            {
                return null;
            }
        }
        catch (IOException)
        {
            return null;
        }

        var memoKey = Digest.FromBytes(Encoding.UTF8.GetBytes(
            $"{compilerPath}\n{driver.FullName}\n{driver.Length}\n{driver.LastWriteTimeUtc.Ticks}")).Hex[..32];
        var memoPath = memoDirectory is null ? null : Path.Combine(memoDirectory, memoKey);
        if (memoPath is not null && TryReadMemo(memoPath) is { } memo)
        {
            return memo;
        }

        var machine = RunFirstLine(compilerPath, "-dumpmachine");
        var version = RunFirstLine(compilerPath, "-dumpversion");
        if (machine is null || version is null)
        {
            return null;
        }

        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        size += AppendFile(hasher, driver.FullName);
        foreach (var program in (ReadOnlySpan<string>)["cc1", "cc1plus"])
        {
            var path = RunFirstLine(compilerPath, "-print-prog-name=" + program);
            if (path is not null && Path.IsPathRooted(path) && File.Exists(path))
            {
                size += AppendFile(hasher, path);
            }
        }

        var identity = new CompilerIdentity(Digest.FromIncremental(hasher, size), machine, version);
        if (memoPath is not null)
        {
            WriteMemo(memoPath, identity);
        }

        return identity;
    }

    private static long AppendFile(IncrementalHash hasher, string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            hasher.AppendData(buffer, 0, read);
            total += read;
        }

        return total;
    }

    private static string? RunFirstLine(string program, string argument)
    {
        try
        {
            var info = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add(argument);
            using var process = Process.Start(info);
            if (process is null)
            {
                return null;
            }

            var output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                return null;
            }

            var line = output.Split('\n', 2)[0].Trim();
            return line.Length == 0 ? null : line;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static CompilerIdentity? TryReadMemo(string path)
    {
        try
        {
            var lines = File.ReadAllLines(path);
            return lines.Length == 3 && Digest.TryParse(lines[0], out var digest) ? new CompilerIdentity(digest, lines[1], lines[2]) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void WriteMemo(string path, CompilerIdentity identity)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = path + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temp, $"{identity.BinaryDigest}\n{identity.Target}\n{identity.Version}\n");
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException)
        {
            // A memo is an optimisation; the next compile probes again.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
