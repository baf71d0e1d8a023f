using System.Globalization;
using Kiln.Server.Hosting;

namespace Kiln.Cli.Serve;

/// <summary>The <c>kiln serve</c> options that protect the node and steer jobs to it (admission, nice, compilers, tags).</summary>
internal static class SchedulingOptions
{
    /// <summary>The help lines for these options.</summary>
    public const string Help = """
          --queue N           Kiln protocol jobs that may wait for a slot; one more gets BUSY and its
                              client tries another node (default: as many as --slots)
          --max-load X        BUSY while the load average minus the node's own compiles exceeds X
                              (default: no limit; for workstations)
          --min-free-memory SIZE  BUSY while less memory is available (default 128M)
          --min-free-disk SIZE    BUSY while less disk is free per running job (default 25M)
          --nice N            run compilers at niceness N (0-19; for workstations lending their cores)
          --compiler-dir DIR  directory of allowed compilers (repeatable; default /usr/local/bin and
                              /usr/bin); the node advertises the gcc, clang and TRIPLE-gcc found there
          --tag KEY=VALUE     advertise KEY=VALUE (TXT and WELCOME); clients filter with ,KEY=VALUE

        """;

    /// <summary>Applies <paramref name="option"/> when it is one of these; false when it is not.</summary>
    public static bool TryApply(string option, Func<string> value, KilnNodeOptions options)
    {
        var invariant = CultureInfo.InvariantCulture;
        switch (option)
        {
            case "--queue":
                var q = value();
                options.Admission.MaxWaiting = int.TryParse(q, NumberStyles.None, invariant, out var queue) && queue <= 100_000
                    ? queue
                    : throw new UsageException($"--queue {q}: must be a number from 0 to 100000");
                return true;
            case "--max-load":
                var l = value();
                options.Admission.MaxOtherLoad = double.TryParse(l, NumberStyles.Float, invariant, out var load) && load >= 0
                    ? load
                    : throw new UsageException($"--max-load {l}: must be a number such as 2 or 3.5");
                return true;
            case "--min-free-memory":
                var m = value();
                options.Admission.MinFreeMemoryBytes = ByteSize.TryParse(m, out var memory)
                    ? memory
                    : throw new UsageException($"--min-free-memory {m}: expected a size such as 256M or 1G");
                return true;
            case "--min-free-disk":
                var d = value();
                options.Admission.MinFreeDiskBytesPerJob = ByteSize.TryParse(d, out var disk)
                    ? disk
                    : throw new UsageException($"--min-free-disk {d}: expected a size such as 25M or 1G");
                return true;
            case "--nice":
                var n = value();
                options.Nice = int.TryParse(n, NumberStyles.None, invariant, out var nice) && nice <= 19
                    ? nice
                    : throw new UsageException($"--nice {n}: must be a number from 0 to 19");
                return true;
            case "--compiler-dir":
                var dir = value();
                options.CompilerDirectories.Add(Directory.Exists(dir)
                    ? Path.GetFullPath(dir)
                    : throw new UsageException($"--compiler-dir {dir}: no such directory"));
                return true;
            case "--tag":
                var t = value();
                var eq = t.IndexOf('=');
                if (eq <= 0 || t.IndexOfAny([',', ' ']) >= 0)
                {
                    throw new UsageException($"--tag {t}: expected KEY=VALUE without commas or spaces, such as pool=fast");
                }

                options.Tags[t[..eq]] = t[(eq + 1)..];
                return true;
            default:
                return false;
        }
    }
}
