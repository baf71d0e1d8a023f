using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Kiln.Server.Compile;

/// <summary>
/// The seccomp program a sandboxed compile runs under (given to <c>bwrap --seccomp FD</c>): it keeps
/// the job off the network without a network namespace of its own, which bubblewrap must create,
/// configure and tear down for every job (0–3 ms here, bench/sandbox-cost.sh). Every
/// <c>socket()</c> fails with EACCES, whatever the family: a compiler opens none, and Unix sockets
/// in the abstract namespace belong to the host's network namespace, so they are refused too.
/// <c>io_uring_setup</c> fails with ENOSYS (its operations would bypass this filter), and so does
/// every system call of another ABI (x32, i386), which could reach <c>socketcall</c> under another
/// number. A classic BPF program of a dozen instructions; only x86-64 and AArch64 have one, other
/// machines keep the network namespace.
/// </summary>
public static class SeccompFilter
{
    private const uint AuditArchX8664 = 0xC000003E;
    private const uint AuditArchAarch64 = 0xC00000B7;
    private const uint X32SyscallBit = 0x40000000;

    private const ushort LoadWordAbsolute = 0x20; // BPF_LD | BPF_W | BPF_ABS
    private const ushort JumpEqual = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JumpGreaterOrEqual = 0x35; // BPF_JMP | BPF_JGE | BPF_K
    private const ushort Return = 0x06; // BPF_RET | BPF_K

    private const uint Allow = 0x7FFF0000; // SECCOMP_RET_ALLOW
    private const uint ErrnoAction = 0x00050000; // SECCOMP_RET_ERRNO | errno
    private const uint Eacces = 13;
    private const uint Enosys = 38;

    /// <summary>The program for this machine, or null where there is none (then the sandbox unshares the network).</summary>
    public static byte[]? ForThisMachine() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => Build(AuditArchX8664, socket: 41, ioUringSetup: 425, rejectX32: true),
        Architecture.Arm64 => Build(AuditArchAarch64, socket: 198, ioUringSetup: 425, rejectX32: false),
        _ => null,
    };

    /// <summary>The program as bytes of <c>struct sock_filter</c> (8 bytes per instruction, host byte order).</summary>
    internal static byte[] Build(uint arch, uint socket, uint ioUringSetup, bool rejectX32)
    {
        // Offsets in struct seccomp_data: nr at 0, arch at 4.
        var program = new List<(ushort Code, byte JumpTrue, byte JumpFalse, uint K)>
        {
            (LoadWordAbsolute, 0, 0, 4),
        };

        // Jump distances count the instructions after the jump; the three returns close the program.
        program.Add((JumpEqual, 0, (byte)(rejectX32 ? 5 : 4), arch)); // another ABI: to "ENOSYS"
        program.Add((LoadWordAbsolute, 0, 0, 0));
        if (rejectX32)
        {
            program.Add((JumpGreaterOrEqual, 3, 0, X32SyscallBit)); // to "ENOSYS"
        }

        program.Add((JumpEqual, 3, 0, socket)); // to "EACCES"
        program.Add((JumpEqual, 1, 0, ioUringSetup)); // to "ENOSYS"
        program.Add((Return, 0, 0, Allow));
        program.Add((Return, 0, 0, ErrnoAction | Enosys));
        program.Add((Return, 0, 0, ErrnoAction | Eacces));

        var bytes = new byte[program.Count * 8];
        for (var i = 0; i < program.Count; i++)
        {
            var (code, jt, jf, k) = program[i];
            var at = bytes.AsSpan(i * 8);
            BinaryPrimitives.WriteUInt16LittleEndian(at, code);
            at[2] = jt;
            at[3] = jf;
            BinaryPrimitives.WriteUInt32LittleEndian(at[4..], k);
        }

        return bytes;
    }
}
