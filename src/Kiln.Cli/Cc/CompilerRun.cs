namespace Kiln.Cli.Cc;

/// <summary>What a compiler run captured: its exit code and everything it wrote.</summary>
internal readonly record struct CompilerRun(int ExitCode, ReadOnlyMemory<byte> Stdout, ReadOnlyMemory<byte> Stderr);
