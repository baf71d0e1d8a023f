using System.Text;
using Kiln.Core.Processes;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Processes;

/// <summary>
/// <see cref="PosixSpawn"/>, which runs kiln cc's preprocessor: exit codes, both streams whole (also
/// when both are large), the working directory, and the child's signal state.
/// </summary>
public sealed class PosixSpawnTests
{
    private static CapturedRun Shell(string script, string? directory = null) =>
        PosixSpawn.Capture("/bin/sh", ["-c", script], directory ?? Environment.CurrentDirectory)
        ?? throw new InvalidOperationException("/bin/sh did not start");

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    [Fact]
    public void CapturesBothStreamsAndTheExitCode()
    {
        var run = Shell("printf 'to stdout'; printf 'to stderr' >&2; exit 3");
        Assert.Equal(3, run.ExitCode);
        Assert.Equal("to stdout", Text(run.Stdout));
        Assert.Equal("to stderr", Text(run.Stderr));
    }

    [Fact]
    public void ReadsLargeOutputOnBothStreamsWithoutDeadlock()
    {
        // 2 MiB on stdout and 1 MiB on stderr: far beyond a pipe's 64 KiB, so both must be drained together.
        var run = Shell("head -c 2097152 /dev/zero; head -c 1048576 /dev/zero >&2; head -c 1000 /dev/zero");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal((2 * 1024 * 1024) + 1000, run.Stdout.Length);
        Assert.Equal(1024 * 1024, run.Stderr.Length);
    }

    [Fact]
    public void RunsInTheGivenWorkingDirectory()
    {
        using var directory = new TempDirectory("kiln-spawn");
        var run = Shell("pwd -P", directory.Path);
        Assert.Equal(directory.Path, Text(run.Stdout).TrimEnd('\n'));
    }

    [Fact]
    public void ASignalGivesOneHundredTwentyEightPlusItsNumber()
    {
        Assert.Equal(128 + 15, Shell("kill -TERM $$").ExitCode);
    }

    [Fact]
    public void TheChildDoesNotInheritDotnetsIgnoredSigpipe()
    {
        // .NET ignores SIGPIPE; a compiler must see the default disposition, as it would from a shell.
        var run = Shell("grep '^SigIgn' /proc/self/status");
        var mask = Convert.ToUInt64(Text(run.Stdout).Split('\t', StringSplitOptions.TrimEntries)[1], 16);
        Assert.Equal(0UL, mask & (1UL << (13 - 1)));
    }

    [Fact]
    public void AProgramThatDoesNotExistIsNull()
    {
        Assert.Null(PosixSpawn.Capture("/nonexistent/kiln-no-such-compiler", [], Environment.CurrentDirectory));
    }

    [Fact]
    public void PassesArgumentsUnchanged()
    {
        var run = PosixSpawn.Capture("/usr/bin/printf", ["%s|", "a b", "", "ü\"'$x"], Environment.CurrentDirectory)!.Value;
        Assert.Equal("a b||ü\"'$x|", Text(run.Stdout));
    }
}
