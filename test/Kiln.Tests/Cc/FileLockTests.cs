using System.Diagnostics;
using Kiln.Cli.Cc;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Cc;

/// <summary>
/// The slot lock is a real exclusive flock, seen by other processes (util-linux flock(1) here), and
/// not .NET's FileShare emulation, which the programs turn off (System.IO.DisableFileLocking).
/// </summary>
public sealed class FileLockTests
{
    private static int FlockFromAnotherProcess(string path, bool shared)
    {
        var start = new ProcessStartInfo("flock") { RedirectStandardError = true };
        foreach (var argument in shared ? ["-n", "-s", path, "true"] : new[] { "-n", path, "true" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(10_000), "flock(1) did not finish");
        return process.ExitCode;
    }

    [Fact]
    public void HeldLockIsExclusiveForOtherProcessesAndForThisOne()
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("slots", "cpu_localhost_0");

        using (var held = FileLock.TryTake(path))
        {
            Assert.NotNull(held);
            Assert.True(File.Exists(path), "the lock file is created, with its directory");

            // Even a shared lock is refused: the holder has LOCK_EX, not the LOCK_SH .NET takes for FileShare.ReadWrite.
            Assert.Equal(1, FlockFromAnotherProcess(path, shared: true));
            Assert.Equal(1, FlockFromAnotherProcess(path, shared: false));
            Assert.Null(FileLock.TryTake(path));
        }

        Assert.Equal(0, FlockFromAnotherProcess(path, shared: false));
        using var again = FileLock.TryTake(path);
        Assert.NotNull(again);
    }

    [Fact]
    public void LockHeldByAnotherProcessIsNotTaken()
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("lock");
        File.WriteAllBytes(path, []);

        // flock(1) holds LOCK_EX while its command sleeps; the lock is taken once it exits.
        var start = new ProcessStartInfo("flock") { RedirectStandardOutput = true };
        foreach (var argument in new[] { path, "sh", "-c", "echo held; sleep 30" })
        {
            start.ArgumentList.Add(argument);
        }

        using var holder = Process.Start(start)!;
        try
        {
            Assert.Equal("held", holder.StandardOutput.ReadLine());
            Assert.Null(FileLock.TryTake(path));
            Assert.Null(FileLock.Take(path, TimeSpan.FromMilliseconds(50)));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit(10_000);
        }

        using var taken = FileLock.Take(path, TimeSpan.FromSeconds(5));
        Assert.NotNull(taken);
    }
}
