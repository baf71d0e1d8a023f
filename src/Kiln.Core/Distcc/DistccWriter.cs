using System.Text;

namespace Kiln.Core.Distcc;

/// <summary>
/// Writes distcc packets: headers and small bodies gather in a buffer so that a request or reply
/// leaves in few segments (distcc corks its socket for the same reason); large bodies go straight
/// to the stream. Bulk bodies are LZO1X-compressed when the protocol version asks for it, except
/// empty ones, which distcc always sends as length 0.
/// </summary>
public sealed class DistccWriter
{
    private const int DirectBodyBytes = 64 << 10;
    private readonly Stream _stream;
    private readonly MemoryStream _pending = new();
    private readonly byte[] _header = new byte[DistccHeaderCodec.Size];

    /// <summary>Writes to <paramref name="stream"/>.</summary>
    public DistccWriter(Stream stream)
    {
        _stream = stream;
    }

    /// <summary>Bytes handed to the stream so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Adds a header carrying a number (DIST, ARGC, NFIL, DONE, STAT).</summary>
    public void Header(string token, uint value)
    {
        DistccHeaderCodec.Write(_header, token, value);
        _pending.Write(_header);
    }

    /// <summary>Adds a string packet (ARGV, CDIR, NAME, LINK).</summary>
    public void String(string token, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Header(token, (uint)bytes.Length);
        _pending.Write(bytes);
    }

    /// <summary>Adds a bulk body (DOTI, DOTO, SERR, SOUT, FILE, DOTD), compressed when <paramref name="compress"/>.</summary>
    public async ValueTask BodyAsync(string token, ReadOnlyMemory<byte> body, bool compress, CancellationToken cancellationToken)
    {
        var wire = compress && !body.IsEmpty ? Lzo1x.Compress(body.Span) : body;
        Header(token, (uint)wire.Length);
        if (wire.Length < DirectBodyBytes)
        {
            _pending.Write(wire.Span);
            return;
        }

        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync(wire, cancellationToken).ConfigureAwait(false);
        BytesWritten += wire.Length;
    }

    /// <summary>Sends what has gathered and flushes the stream.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_pending.Length > 0)
        {
            await _stream.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), cancellationToken).ConfigureAwait(false);
            BytesWritten += _pending.Length;
            _pending.SetLength(0);
        }

        await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
