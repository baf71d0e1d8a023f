using System.Runtime.InteropServices;

namespace Kiln.Core.Processes;

/// <summary>
/// Runs a program and captures its output on the calling thread, through <c>posix_spawn</c>,
/// <c>poll</c> and <c>waitpid</c>. <see cref="System.Diagnostics.Process"/> reads redirected
/// streams on thread-pool threads and reaps children on a signal-handling thread of its own: for a
/// short-lived <c>kiln cc</c> process those threads, and the spinning of idle pool workers, cost more
/// CPU than the preprocessor run they serve (perf, docs/benchmarks.md, overhead-analysis). Here no
/// thread is started and no SIGCHLD handler installed. Linux (glibc) only; a process that also uses
/// <see cref="System.Diagnostics.Process"/> must not use this, because .NET's SIGCHLD handler may
/// reap the child first.
/// </summary>
public static unsafe partial class PosixSpawn
{
    private const string Libc = "libc.so.6";
    private const int OCloexec = 0x80000;
    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int Sigpipe = 13;
    private const short PollIn = 0x001;
    private const short PollErr = 0x008;
    private const short PollHup = 0x010;
    private const short SpawnSetSigDefault = 0x04;
    private const short SpawnSetSigMask = 0x08;
    private const short SpawnSetSid = 0x80;
    private const int ORdOnly = 0;
    private const int OWrOnly = 1;
    private const int OCreat = 0x40;
    private const int OAppend = 0x400;

    // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336 on 64-bit targets;
    // sigset_t is 128. The buffers leave room to spare.
    private const int FileActionsSize = 256;
    private const int AttributesSize = 512;
    private const int SignalSetSize = 256;

    /// <summary>True where <see cref="Capture"/> can run programs (Linux).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>
    /// Runs <paramref name="program"/> (a path) with <paramref name="arguments"/> in
    /// <paramref name="workingDirectory"/>, standard input inherited, and returns its exit code and
    /// output. Null when the program could not be started (the caller then reports it its own way).
    /// </summary>
    public static CapturedRun? Capture(string program, IReadOnlyList<string> arguments, string workingDirectory)
    {
        if (!IsSupported)
        {
            return null;
        }

        var environment = Environ();
        if (environment == 0)
        {
            return null;
        }

        var outPipe = stackalloc int[2];
        var errPipe = stackalloc int[2];
        if (pipe2(outPipe, OCloexec) != 0)
        {
            return null;
        }

        if (pipe2(errPipe, OCloexec) != 0)
        {
            close(outPipe[0]);
            close(outPipe[1]);
            return null;
        }

        var pid = Spawn(program, arguments, workingDirectory, environment, -1, outPipe[1], errPipe[1], 0);
        close(outPipe[1]);
        close(errPipe[1]);
        if (pid <= 0)
        {
            close(outPipe[0]);
            close(errPipe[0]);
            return null;
        }

        var stdout = new OutputBuffer(256 * 1024);
        var stderr = new OutputBuffer(4096);
        ReadBoth(outPipe[0], errPipe[0], ref stdout, ref stderr);
        var exitCode = WaitForExit(pid);
        return new CapturedRun(exitCode, stdout.Written, stderr.Written);
    }

    /// <summary>
    /// Starts <paramref name="program"/> in a session of its own (setsid, so a terminal's Ctrl-C or a
    /// build's process group is not its), in <c>/</c>, with standard input from <c>/dev/null</c> and its
    /// output appended to <paramref name="logFile"/>, and does not wait for it: when this process ends
    /// the child is reaped by init. False when it could not be started.
    /// </summary>
    public static bool StartDetached(string program, IReadOnlyList<string> arguments, string logFile)
    {
        var environment = IsSupported ? Environ() : 0;
        if (environment == 0)
        {
            return false;
        }

        var input = open("/dev/null", ORdOnly | OCloexec, 0);
        var output = open(logFile, OWrOnly | OCreat | OAppend | OCloexec, 0x180);
        try
        {
            return input >= 0 && output >= 0 && Spawn(program, arguments, "/", environment, input, output, output, SpawnSetSid) > 0;
        }
        finally
        {
            if (input >= 0)
            {
                close(input);
            }

            if (output >= 0)
            {
                close(output);
            }
        }
    }

    private static int Spawn(string program, IReadOnlyList<string> arguments, string workingDirectory, nint environment, int stdinFd, int stdoutFd, int stderrFd,
        short flags)
    {
        var actions = stackalloc byte[FileActionsSize];
        var attributes = stackalloc byte[AttributesSize];
        var mask = stackalloc byte[SignalSetSize];
        var defaults = stackalloc byte[SignalSetSize];
        var argv = (nint*)NativeMemory.AllocZeroed((nuint)(arguments.Count + 2), (nuint)sizeof(nint));
        nint path = 0;
        nint directory = 0;
        posix_spawn_file_actions_init(actions);
        posix_spawnattr_init(attributes);
        try
        {
            path = Marshal.StringToCoTaskMemUTF8(program);
            argv[0] = Marshal.StringToCoTaskMemUTF8(program);
            for (var i = 0; i < arguments.Count; i++)
            {
                argv[i + 1] = Marshal.StringToCoTaskMemUTF8(arguments[i]);
            }

            // The given descriptors become 0 (unless inherited), 1 and 2; close-on-exec removes the originals.
            if ((stdinFd >= 0 && posix_spawn_file_actions_adddup2(actions, stdinFd, 0) != 0)
                || posix_spawn_file_actions_adddup2(actions, stdoutFd, 1) != 0 || posix_spawn_file_actions_adddup2(actions, stderrFd, 2) != 0)
            {
                return -1;
            }

            // A detached child keeps none of this process's other descriptors: what it inherited without
            // close-on-exec (a make jobserver's pipe, a caller's pipe) would live on in it.
            if ((flags & SpawnSetSid) != 0 && posix_spawn_file_actions_addclosefrom_np(actions, 3) != 0)
            {
                return -1;
            }

            if (!string.Equals(Path.GetFullPath(workingDirectory), Environment.CurrentDirectory, StringComparison.Ordinal))
            {
                directory = Marshal.StringToCoTaskMemUTF8(workingDirectory);
                if (posix_spawn_file_actions_addchdir_np(actions, (byte*)directory) != 0)
                {
                    return -1;
                }
            }

            // .NET ignores SIGPIPE, and an ignored signal stays ignored across exec: the child gets the
            // default back, and an empty signal mask, as a shell would give it.
            sigemptyset(mask);
            sigemptyset(defaults);
            sigaddset(defaults, Sigpipe);
            if (posix_spawnattr_setsigmask(attributes, mask) != 0 || posix_spawnattr_setsigdefault(attributes, defaults) != 0
                || posix_spawnattr_setflags(attributes, (short)(SpawnSetSigMask | SpawnSetSigDefault | flags)) != 0)
            {
                return -1;
            }

            int pid;
            return posix_spawn(&pid, (byte*)path, actions, attributes, argv, (nint*)environment) == 0 ? pid : -1;
        }
        finally
        {
            posix_spawn_file_actions_destroy(actions);
            posix_spawnattr_destroy(attributes);
            for (var i = 0; argv[i] != 0; i++)
            {
                Marshal.FreeCoTaskMem(argv[i]);
            }

            NativeMemory.Free(argv);
            Marshal.FreeCoTaskMem(path);
            Marshal.FreeCoTaskMem(directory);
        }
    }

    /// <summary>Reads both pipes to their ends, whichever has data, and closes them.</summary>
    private static void ReadBoth(int stdoutFd, int stderrFd, ref OutputBuffer stdout, ref OutputBuffer stderr)
    {
        var fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = stdoutFd, Events = PollIn };
        fds[1] = new PollFd { Fd = stderrFd, Events = PollIn };
        var open = 2;
        while (open > 0)
        {
            fds[0].Revents = 0;
            fds[1].Revents = 0;
            if (poll(fds, 2, -1) < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }

                break;
            }

            for (var i = 0; i < 2; i++)
            {
                if (fds[i].Fd < 0 || (fds[i].Revents & (PollIn | PollHup | PollErr)) == 0)
                {
                    continue;
                }

                var done = i == 0 ? !stdout.ReadFrom(fds[i].Fd) : !stderr.ReadFrom(fds[i].Fd);
                if (done)
                {
                    close(fds[i].Fd);
                    fds[i].Fd = -1;
                    open--;
                }
            }
        }

        for (var i = 0; i < 2; i++)
        {
            if (fds[i].Fd >= 0)
            {
                close(fds[i].Fd);
            }
        }
    }

    private static int WaitForExit(int pid)
    {
        int status;
        while (waitpid(pid, &status, 0) < 0)
        {
            if (Marshal.GetLastPInvokeError() != Eintr)
            {
                return -1;
            }
        }

        var signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    /// <summary>The C library's <c>environ</c>: .NET never changes it, so it is this process's environment.</summary>
    private static nint Environ()
    {
        if (!NativeLibrary.TryLoad(Libc, out var libc) || !NativeLibrary.TryGetExport(libc, "environ", out var address))
        {
            return 0;
        }

        return *(nint*)address;
    }

    /// <summary>A growing byte buffer that reads straight from a descriptor.</summary>
    private struct OutputBuffer(int capacity)
    {
        private byte[] _bytes = new byte[capacity];
        private int _length;

        public readonly ReadOnlyMemory<byte> Written => _bytes.AsMemory(0, _length);

        /// <summary>One read; false at the end of the stream or on an error.</summary>
        public bool ReadFrom(int fd)
        {
            if (_bytes.Length - _length < 16384)
            {
                Array.Resize(ref _bytes, _bytes.Length * 2);
            }

            nint read;
            fixed (byte* start = &_bytes[_length])
            {
                read = Read(fd, start, (nuint)(_bytes.Length - _length));
            }

            if (read > 0)
            {
                _length += (int)read;
                return true;
            }

            return read < 0 && Marshal.GetLastPInvokeError() is Eintr or Eagain;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int pipe2(int* fds, int flags);

    [LibraryImport(Libc)]
    private static partial int close(int fd);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_addclosefrom_np(byte* fileActions, int from);

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport(Libc, SetLastError = true)]
    private static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Libc)]
    private static partial int posix_spawn(int* pid, byte* path, byte* fileActions, byte* attributes, nint* argv, nint* envp);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_init(byte* fileActions);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_destroy(byte* fileActions);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_adddup2(byte* fileActions, int fd, int newFd);

    [LibraryImport(Libc)]
    private static partial int posix_spawn_file_actions_addchdir_np(byte* fileActions, byte* path);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_init(byte* attributes);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_destroy(byte* attributes);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setflags(byte* attributes, short flags);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setsigmask(byte* attributes, byte* mask);

    [LibraryImport(Libc)]
    private static partial int posix_spawnattr_setsigdefault(byte* attributes, byte* defaults);

    [LibraryImport(Libc)]
    private static partial int sigemptyset(byte* set);

    [LibraryImport(Libc)]
    private static partial int sigaddset(byte* set, int signal);
}
