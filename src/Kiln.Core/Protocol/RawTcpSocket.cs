using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Kiln.Core.Protocol;

/// <summary>
/// A TCP connection on the C library's calls (socket, connect, poll, send, recv), for the Kiln client's
/// synchronous way. .NET's <see cref="Socket"/> starts the socket engine's epoll thread when the first
/// socket of a process is made, and that thread starts a thread-pool worker: two threads for a
/// <c>kiln cc</c> process that only ever blocks on one connection (perf: thread starts were about a
/// seventh of a remote hit's CPU). The descriptor stays non-blocking; each call that would block waits
/// in poll, for at most the I/O timeout.
/// </summary>
internal sealed partial class RawTcpSocket : IDisposable
{
    private const int AfUnix = 1;
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockStream = 1;
    private const int SockNonBlock = 0x800;
    private const int SockCloexec = 0x80000;
    private const int IpProtoTcp = 6;
    private const int TcpNoDelay = 1;
    private const int SolSocket = 1;
    private const int SoError = 4;
    private const int MsgNoSignal = 0x4000;
    private const short PollIn = 0x1;
    private const short PollOut = 0x4;
    private const int EIntr = 4;
    private const int EAgain = 11;
    private const int EInProgress = 115;
    private const int ShutRdWr = 2;

    private int _fd;

    private RawTcpSocket(int fd) => _fd = fd;

    /// <summary>How long one send or receive may wait (the client's I/O timeout).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Begins a connect to <paramref name="address"/>; the socket is connected once <see cref="FinishConnect"/> says so.</summary>
    public static RawTcpSocket BeginConnect(IPAddress address, int port)
    {
        var family = address.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        var fd = socket(family, SockStream | SockNonBlock | SockCloexec, 0);
        if (fd < 0)
        {
            throw Failure(Marshal.GetLastPInvokeError());
        }

        var raw = new RawTcpSocket(fd);
        try
        {
            var one = 1;
            _ = setsockopt(fd, IpProtoTcp, TcpNoDelay, ref one, sizeof(int));
            Span<byte> sockaddr = stackalloc byte[28];
            sockaddr.Clear();
            int length;
            if (family == AfInet6)
            {
                BitConverter.TryWriteBytes(sockaddr, (ushort)AfInet6);
                address.TryWriteBytes(sockaddr[8..24], out _);
                BitConverter.TryWriteBytes(sockaddr[24..], (uint)address.ScopeId);
                length = 28;
            }
            else
            {
                BitConverter.TryWriteBytes(sockaddr, (ushort)AfInet);
                address.TryWriteBytes(sockaddr[4..8], out _);
                length = 16;
            }

            sockaddr[2] = (byte)(port >> 8);
            sockaddr[3] = (byte)port;
            if (connect(fd, ref MemoryMarshal.GetReference(sockaddr), length) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (EInProgress or EAgain or EIntr))
                {
                    throw Failure(errno);
                }
            }

            return raw;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Connects to the Unix socket at <paramref name="path"/> (a local node's, docs/architecture.md). A
    /// Unix connect completes or fails at once: a full listen backlog fails too (EAGAIN), and the
    /// caller then goes by TCP.
    /// </summary>
    public static RawTcpSocket ConnectUnix(string path)
    {
        // struct sockaddr_un: the family, then at most 107 bytes of path and a NUL.
        Span<byte> sockaddr = stackalloc byte[110];
        sockaddr.Clear();
        var length = System.Text.Encoding.UTF8.GetBytes(path, sockaddr[2..^1]);
        if (length == 0 || length > UnixSocketPath.MaxBytes)
        {
            throw new SocketException((int)SocketError.AddressNotAvailable);
        }

        BitConverter.TryWriteBytes(sockaddr, (ushort)AfUnix);
        var fd = socket(AfUnix, SockStream | SockNonBlock | SockCloexec, 0);
        if (fd < 0)
        {
            throw Failure(Marshal.GetLastPInvokeError());
        }

        var raw = new RawTcpSocket(fd);
        if (connect(fd, ref MemoryMarshal.GetReference(sockaddr), 2 + length + 1) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            raw.Dispose();
            throw Failure(errno);
        }

        return raw;
    }

    /// <summary>The user id of the process at the other end of a Unix socket (SO_PEERCRED), or null.</summary>
    public uint? PeerUserId() => UnixPeerCredentials.Of(Volatile.Read(ref _fd))?.UserId;

    /// <summary>Waits until <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>) for the connect; throws its failure, or TimedOut.</summary>
    public void FinishConnect(long deadline)
    {
        if (!Poll(PollOut, TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64))))
        {
            throw new SocketException((int)SocketError.TimedOut);
        }

        var error = 0;
        var length = sizeof(int);
        if (getsockopt(_fd, SolSocket, SoError, ref error, ref length) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError());
        }

        if (error != 0)
        {
            throw Failure(error);
        }
    }

    /// <summary>True when bytes (or the end, or an error) can be read within <paramref name="patience"/>.</summary>
    public bool PollReadable(TimeSpan patience) => Poll(PollIn, patience);

    /// <summary>True when a connect begun by <see cref="BeginConnect"/> has ended (made, or failed) within <paramref name="patience"/>.</summary>
    public bool ConnectEndsWithin(TimeSpan patience) => Poll(PollOut, patience);

    /// <summary>Sends every byte of <paramref name="buffer"/>, waiting at most <see cref="Timeout"/> each time the socket is full.</summary>
    public void Send(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            var sent = send(_fd, ref MemoryMarshal.GetReference(buffer), buffer.Length, MsgNoSignal);
            if (sent >= 0)
            {
                buffer = buffer[(int)sent..];
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == EIntr)
            {
                continue;
            }

            if (errno != EAgain || !Poll(PollOut, Timeout))
            {
                throw errno == EAgain ? new SocketException((int)SocketError.TimedOut) : Failure(errno);
            }
        }
    }

    /// <summary>Reads at least one byte (0 at the end), waiting at most <see cref="Timeout"/>.</summary>
    public int Receive(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        while (true)
        {
            var read = recv(_fd, ref MemoryMarshal.GetReference(buffer), buffer.Length, 0);
            if (read >= 0)
            {
                return (int)read;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == EIntr)
            {
                continue;
            }

            if (errno != EAgain || !Poll(PollIn, Timeout))
            {
                throw errno == EAgain ? new SocketException((int)SocketError.TimedOut) : Failure(errno);
            }
        }
    }

    private bool Poll(short events, TimeSpan patience)
    {
        var fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            throw new ObjectDisposedException(nameof(RawTcpSocket));
        }

        var until = Environment.TickCount64 + (long)Math.Min(patience.TotalMilliseconds, int.MaxValue);
        while (true)
        {
            var entry = new PollFd { Fd = fd, Events = events };
            var ready = poll(ref entry, 1, (int)Math.Clamp(until - Environment.TickCount64, 0, int.MaxValue));
            if (ready > 0)
            {
                return true;
            }

            if (ready == 0)
            {
                return false;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != EIntr)
            {
                throw Failure(errno);
            }
        }
    }

    /// <summary>A <see cref="SocketException"/> for a C library error number, in the words .NET's sockets use.</summary>
    private static SocketException Failure(int errno) => new((int)(errno switch
    {
        111 => SocketError.ConnectionRefused,
        110 => SocketError.TimedOut,
        113 => SocketError.HostUnreachable,
        101 => SocketError.NetworkUnreachable,
        104 => SocketError.ConnectionReset,
        32 => SocketError.Shutdown,
        103 => SocketError.ConnectionAborted,
        99 => SocketError.AddressNotAvailable,
        2 => SocketError.AddressNotAvailable,
        11 => SocketError.TryAgain,
        97 => SocketError.AddressFamilyNotSupported,
        _ => SocketError.SocketError,
    }));

    /// <summary>Shuts the connection down (waking a poll on it) and closes the descriptor.</summary>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = shutdown(fd, ShutRdWr);
            _ = close(fd);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, ref byte address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, ref int value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getsockopt(int fd, int level, int name, ref int value, ref int length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(ref PollFd fds, ulong count, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, ref byte buffer, nint length, int flags);

    [LibraryImport("libc")]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    /// <summary>The connection as a stream of bytes (what frames are read from).</summary>
    internal sealed class RawStream(RawTcpSocket socket) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer) => socket.Receive(buffer);

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer) => socket.Send(buffer);

        public override void Flush()
        {
        }

        // Stream's own asynchronous reads and writes share one semaphore, so a pending read (the reply,
        // awaited while the job is written) would hold every write back: a deadlock, found when a
        // PREPROCESS job went the asynchronous way on such a connection. Writes block (sends are
        // bounded by the timeout); a read blocks a pool thread until bytes come, or the connection is
        // disposed (shutdown wakes its poll).
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(Task.Run(() => socket.Receive(buffer.Span), cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            socket.Send(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            socket.Send(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
