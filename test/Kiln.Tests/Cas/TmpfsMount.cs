using System.Diagnostics;

namespace Kiln.Tests.Cas;

/// <summary>A small tmpfs mounted on a fresh directory (needs root), unmounted and removed on dispose.</summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    /// <summary>The mount point.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (mount's syntax: 2m), or returns why it cannot.</summary>
    public static TmpfsMount? TryMount(string size, out string error)
    {
        var path = Directory.CreateTempSubdirectory("kiln-tmpfs-").FullName;
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            error = $"mount -t tmpfs exited {code}: {output.Trim()}";
            return null;
        }

        error = "";
        return new TmpfsMount(path);
    }

    /// <summary>Why tmpfs tests cannot run here, or null when they can (checked once, by mounting one).</summary>
    public static string? WhyNotPermitted => Probe.Value;

    private static readonly Lazy<string?> Probe = new(() =>
    {
        if (!OperatingSystem.IsLinux())
        {
            return "tmpfs needs Linux";
        }

        try
        {
            using var mount = TryMount("64k", out var error);
            return mount is null ? "mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN): " + error : null;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return "mount is not available: " + e.Message;
        }
    });

    private static (int Code, string Output) Run(params string[] args)
    {
        var info = new ProcessStartInfo(args[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args.AsSpan(1))
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            return (-1, $"{string.Join(' ', args)} did not finish in 30 s");
        }

        return (p.ExitCode, stdout.Result + stderr);
    }

    public void Dispose()
    {
        var (code, output) = Run("umount", Path);
        if (code != 0)
        {
            // Busy (a handle still open): detach it lazily so no mount outlives the test run.
            Run("umount", "-l", Path);
            _ = output;
        }

        Directory.Delete(Path);
    }
}
