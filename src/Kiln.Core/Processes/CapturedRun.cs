namespace Kiln.Core.Processes;

/// <summary>What a program run by <see cref="PosixSpawn.Capture"/> gave: its exit code and both output streams.</summary>
/// <param name="ExitCode">The exit status, or 128 plus the signal number when a signal ended it (as <see cref="System.Diagnostics.Process.ExitCode"/>).</param>
/// <param name="Stdout">Everything it wrote to standard output.</param>
/// <param name="Stderr">Everything it wrote to standard error.</param>
public readonly record struct CapturedRun(int ExitCode, ReadOnlyMemory<byte> Stdout, ReadOnlyMemory<byte> Stderr);
