using System.Text;

namespace Kiln.Core.Distcc;

/// <summary>
/// Reads distcc packets from a stream: strict headers, expected tokens, and bodies whose announced
/// length is checked against a cap before any byte is buffered. Every read has a deadline, so a peer
/// that stops sending cannot hold a connection open. Violations throw
/// <see cref="DistccProtocolException"/> with a message naming what was expected and what came.
/// </summary>
public sealed class DistccReader
{
    private const int ChunkBytes = 64 << 10;
    private readonly Stream _stream;
    private readonly TimeSpan _readTimeout;
    private readonly byte[] _header = new byte[DistccHeaderCodec.Size];

    /// <summary>Reads from <paramref name="stream"/>, failing any single read that waits longer than <paramref name="readTimeout"/>.</summary>
    public DistccReader(Stream stream, TimeSpan readTimeout)
    {
        _stream = stream;
        _readTimeout = readTimeout;
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Reads the next header, whatever its token.</summary>
    public async ValueTask<DistccHeader> ReadHeaderAsync(string what, CancellationToken cancellationToken)
    {
        await ReadExactAsync(_header, what, cancellationToken).ConfigureAwait(false);
        if (!DistccHeaderCodec.TryParse(_header, out var header, out var error))
        {
            throw new DistccProtocolException($"{error} (expected {what})");
        }

        return header;
    }

    /// <summary>Reads a header that must carry <paramref name="token"/>, and returns its value.</summary>
    public async ValueTask<uint> ExpectAsync(string token, CancellationToken cancellationToken)
    {
        var header = await ReadHeaderAsync(token, cancellationToken).ConfigureAwait(false);
        if (header.Token != token)
        {
            throw new DistccProtocolException($"protocol derailment: expected {token}, got {header}");
        }

        return header.Value;
    }

    /// <summary>Reads a <paramref name="token"/> string packet (ARGV, CDIR, NAME) of at most <paramref name="maxBytes"/> bytes.</summary>
    public async ValueTask<string> ReadStringAsync(string token, int maxBytes, CancellationToken cancellationToken)
    {
        var length = await ExpectAsync(token, cancellationToken).ConfigureAwait(false);
        return await ReadStringBodyAsync(token, length, maxBytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the body of a string packet whose header has been read.</summary>
    public async ValueTask<string> ReadStringBodyAsync(string token, uint length, int maxBytes, CancellationToken cancellationToken)
    {
        if (length > maxBytes)
        {
            throw new DistccProtocolException($"{token} of {length} bytes exceeds the limit of {maxBytes}");
        }

        var bytes = await ReadBytesAsync((int)length, token, cancellationToken).ConfigureAwait(false);
        if (Array.IndexOf(bytes, (byte)0) >= 0)
        {
            throw new DistccProtocolException($"{token} contains a NUL byte");
        }

        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// Reads a bulk body (DOTI, DOTO, SERR, SOUT, FILE, DOTD) of <paramref name="length"/> wire bytes,
    /// decompressing it when <paramref name="compressed"/> and non-empty. Both the wire length and the
    /// decompressed length are capped at <paramref name="maxBytes"/>.
    /// </summary>
    public async ValueTask<byte[]> ReadBodyAsync(string token, uint length, bool compressed, int maxBytes, CancellationToken cancellationToken)
    {
        if (length > maxBytes)
        {
            throw new DistccProtocolException($"{token} of {length} bytes exceeds the limit of {maxBytes}");
        }

        var wire = await ReadBytesAsync((int)length, token, cancellationToken).ConfigureAwait(false);
        if (!compressed || wire.Length == 0)
        {
            return wire;
        }

        if (!Lzo1x.TryDecompress(wire, maxBytes, out var plain, out var error))
        {
            throw new DistccProtocolException($"{token}: {error}");
        }

        return plain;
    }

    /// <summary>
    /// Reads exactly <paramref name="length"/> bytes, growing the buffer as bytes arrive rather than
    /// allocating the announced length up front: a peer that claims much and sends little costs little.
    /// </summary>
    private async ValueTask<byte[]> ReadBytesAsync(int length, string what, CancellationToken cancellationToken)
    {
        if (length <= ChunkBytes)
        {
            var small = new byte[length];
            await ReadExactAsync(small, what, cancellationToken).ConfigureAwait(false);
            return small;
        }

        var buffer = new byte[ChunkBytes];
        var filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(length, 2L * buffer.Length));
            }

            var want = Math.Min(buffer.Length, length) - filled;
            await ReadExactAsync(buffer.AsMemory(filled, want), what, cancellationToken).ConfigureAwait(false);
            filled += want;
        }

        return buffer;
    }

    private async ValueTask ReadExactAsync(Memory<byte> buffer, string what, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_readTimeout);
        var filled = 0;
        while (filled < buffer.Length)
        {
            int read;
            try
            {
                read = await _stream.ReadAsync(buffer[filled..], deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DistccProtocolException($"no data for {_readTimeout.TotalSeconds:0.#} s while reading {what}");
            }

            if (read == 0)
            {
                throw new DistccProtocolException(BytesRead == 0 && filled == 0
                    ? $"connection closed before {what}"
                    : $"connection closed in the middle of {what} ({filled} of {buffer.Length} bytes)");
            }

            filled += read;
            BytesRead += read;
        }
    }
}
