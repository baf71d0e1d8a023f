using System.Diagnostics;
using System.Text;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Cli.Cc;

/// <summary>
/// Learns the platform a compile needs (<see cref="CompilerPlatform"/>): the compiler's family, the
/// triple it targets with this compile's target options (<c>--target</c>, <c>-target</c>, <c>-m32</c>,
/// <c>-m64</c>, <c>-mx32</c>, <c>-m16</c>) and its version, by asking the compiler itself
/// (<c>-dumpmachine</c>, <c>-dumpversion</c>). Memoised under KILN_DIR/platform, keyed by the compiler's
/// path, size, modification time and those options, as <c>CompilerIdentityProbe</c> memoises
/// identities: a build pays two compiler runs once per compiler and option set, not per file.
/// </summary>
internal static class PlatformProbe
{
    /// <summary>The platform of a compile, or null when the compiler does not answer.</summary>
    public static CompilerPlatform? Probe(string compilerPath, IReadOnlyList<string> arguments, string stateDirectory)
    {
        var options = TargetOptions(arguments);
        FileInfo driver;
        try
        {
            driver = new FileInfo(compilerPath);
            if (driver.ResolveLinkTarget(returnFinalTarget: true) is FileInfo resolved)
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

        // cc and c++ are links to gcc or clang: the family is the real program's.
        var family = CompilerPlatform.FamilyOf(driver.Name);
        var key = Digest.FromBytes(Encoding.UTF8.GetBytes(
            $"{compilerPath}\n{driver.FullName}\n{driver.Length}\n{driver.LastWriteTimeUtc.Ticks}\n{string.Join('\n', options)}")).Hex[..32];
        var memo = Path.Combine(stateDirectory, "platform", key);
        try
        {
            if (File.Exists(memo) && CompilerPlatform.TryParse(File.ReadAllText(memo), out var remembered))
            {
                return remembered;
            }
        }
        catch (IOException)
        {
        }

        var machine = FirstLine(compilerPath, [.. options, "-dumpmachine"]);
        var version = FirstLine(compilerPath, ["-dumpversion"]);
        if (machine is null || version is null)
        {
            return null;
        }

        var platform = CompilerPlatform.Of(family, machine, version);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(memo)!);
            var temporary = memo + "." + Environment.ProcessId + ".tmp";
            File.WriteAllText(temporary, platform.ToString());
            File.Move(temporary, memo, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A memo saves time only; the next compile asks the compiler again.
        }

        return platform;
    }

    /// <summary>The options of a command line that change the target a compiler produces code for.</summary>
    public static List<string> TargetOptions(IReadOnlyList<string> arguments)
    {
        var options = new List<string>();
        for (var i = 0; i < arguments.Count; i++)
        {
            var a = arguments[i];
            if (a.StartsWith("--target=", StringComparison.Ordinal) || a is "-m32" or "-m64" or "-mx32" or "-m16")
            {
                options.Add(a);
            }
            else if (a is "-target" or "--target" && i + 1 < arguments.Count)
            {
                options.Add(a);
                options.Add(arguments[++i]);
            }
        }

        return options;
    }

    private static string? FirstLine(string program, IReadOnlyList<string> arguments)
    {
        try
        {
            var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in arguments)
            {
                info.ArgumentList.Add(a);
            }

            using var process = Process.Start(info);
            if (process is null)
            {
                return null;
            }

            var errors = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            errors.Wait();
            process.WaitForExit();
            var line = output.Split('\n', 2)[0].Trim();
            return process.ExitCode == 0 && line.Length > 0 ? line : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
