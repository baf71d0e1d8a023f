namespace Kiln.Tests.Scheduling;

/// <summary>
/// A stand-in aarch64 cross compiler for tests (no cross gcc is installed here): a script named
/// <c>aarch64-linux-gnu-gcc</c> that answers <c>-dumpmachine</c> and <c>-dumpversion</c> as one would
/// and compiles with clang's aarch64 back end, so its objects really are aarch64 code.
/// </summary>
internal static class CrossCompilerShim
{
    public const string Name = "aarch64-linux-gnu-gcc";

    public const string Platform = "gcc:aarch64-linux-gnu:12";

    /// <summary>Writes the script into <paramref name="directory"/> and returns its path.</summary>
    public static string Install(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, Name);
        File.WriteAllText(path, """
            #!/bin/sh
            for a in "$@"; do
              case "$a" in
                -dumpmachine) echo aarch64-linux-gnu; exit 0 ;;
                -dumpversion) echo 12; exit 0 ;;
              esac
            done
            exec /usr/bin/clang --target=aarch64-linux-gnu "$@"

            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }

    /// <summary>The ELF machine of an object file (183 = aarch64, 62 = x86-64).</summary>
    public static int ElfMachine(string objectFile)
    {
        var bytes = File.ReadAllBytes(objectFile);
        return bytes.Length > 20 && bytes[0] == 0x7f && bytes[1] == (byte)'E' ? bytes[18] | (bytes[19] << 8) : -1;
    }
}
