using System.Buffers.Binary;
using System.Net.Sockets;

namespace Kiln.Core.Discovery;

/// <summary>
/// Encodes DNS messages with name compression (RFC 1035 §4.1.4): every name suffix written is
/// remembered, and a later name ending in it points back to it. SRV and PTR targets are compressed
/// too, as mDNS allows (RFC 6762 §18.14); the NSEC next name is written in full (RFC 4034 §4.1.1).
/// </summary>
public sealed class DnsMessageWriter
{
    /// <summary>The largest mDNS message (RFC 6762 §17: 9000 bytes including IP and UDP headers).</summary>
    public const int MaxMessageLength = 9000;

    private readonly byte[] _buffer = new byte[MaxMessageLength];
    private readonly Dictionary<string, int> _suffixes = new(StringComparer.Ordinal);
    private int _length;

    /// <summary>
    /// Encodes a message. Returns null when it does not fit in <see cref="MaxMessageLength"/> bytes
    /// or a name is not encodable (an empty or over-long label, a name over 255 bytes).
    /// </summary>
    public static byte[]? Encode(DnsMessage message)
    {
        var writer = new DnsMessageWriter();
        return writer.TryWrite(message) ? writer._buffer.AsSpan(0, writer._length).ToArray() : null;
    }

    private bool TryWrite(DnsMessage message)
    {
        if (message.Questions.Count > ushort.MaxValue || message.Answers.Count > ushort.MaxValue
            || message.Authorities.Count > ushort.MaxValue || message.Additionals.Count > ushort.MaxValue)
        {
            return false;
        }

        if (!TryUInt16(message.Id) || !TryUInt16(message.Flags) || !TryUInt16((ushort)message.Questions.Count)
            || !TryUInt16((ushort)message.Answers.Count) || !TryUInt16((ushort)message.Authorities.Count)
            || !TryUInt16((ushort)message.Additionals.Count))
        {
            return false;
        }

        foreach (var q in message.Questions)
        {
            if (!TryName(q.Name, compress: true) || !TryUInt16((ushort)q.Type)
                || !TryUInt16((ushort)((q.Class & 0x7FFF) | (q.UnicastResponse ? 0x8000 : 0))))
            {
                return false;
            }
        }

        foreach (var r in message.AllRecords())
        {
            if (!TryRecord(r))
            {
                return false;
            }
        }

        return true;
    }

    private bool TryRecord(DnsRecord r)
    {
        if (!TryName(r.Name, compress: true) || !TryUInt16((ushort)r.Type)
            || !TryUInt16((ushort)((r.Class & 0x7FFF) | (r.CacheFlush ? 0x8000 : 0))) || !TryUInt32(r.Ttl))
        {
            return false;
        }

        var lengthAt = _length;
        if (!TryUInt16(0))
        {
            return false;
        }

        var ok = r.Data switch
        {
            PtrData ptr => TryName(ptr.Target, compress: true),
            SrvData srv => TryUInt16(srv.Priority) && TryUInt16(srv.Weight) && TryUInt16(srv.Port) && TryName(srv.Target, compress: true),
            AddressData address => TryAddress(address, r.Type),
            TxtData txt => TryTxt(txt),
            NsecData nsec => TryName(nsec.NextName, compress: false) && TryTypeBitmap(nsec.Types),
            UnknownData unknown => TryBytes(unknown.Bytes),
            _ => false,
        };
        if (!ok)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(lengthAt), (ushort)(_length - lengthAt - 2));
        return true;
    }

    private bool TryAddress(AddressData address, DnsRecordType type)
    {
        var family = type == DnsRecordType.A ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        return address.Address.AddressFamily == family && TryBytes(address.Address.GetAddressBytes());
    }

    private bool TryTxt(TxtData txt)
    {
        // An empty TXT record is one empty string (RFC 6763 §6.1).
        if (txt.Strings.Count == 0)
        {
            return TryBytes([0]);
        }

        foreach (var s in txt.Strings)
        {
            if (s.Length > 255 || !TryBytes([(byte)s.Length]) || !TryBytes(s))
            {
                return false;
            }
        }

        return true;
    }

    private bool TryTypeBitmap(IReadOnlyList<DnsRecordType> types)
    {
        foreach (var window in types.Select(t => (int)t >> 8).Distinct().Order())
        {
            var bitmap = new byte[32];
            var used = 0;
            foreach (var t in types.Where(t => (int)t >> 8 == window))
            {
                var low = (int)t & 0xFF;
                bitmap[low / 8] |= (byte)(0x80 >> (low % 8));
                used = Math.Max(used, low / 8 + 1);
            }

            if (!TryBytes([(byte)window, (byte)used]) || !TryBytes(bitmap.AsSpan(0, used)))
            {
                return false;
            }
        }

        return true;
    }

    private bool TryName(string name, bool compress)
    {
        var labels = DnsName.Labels(name);
        if (labels is null)
        {
            return false;
        }

        for (var i = 0; i < labels.Count; i++)
        {
            var suffix = SuffixKey(labels, i);
            if (compress && _suffixes.TryGetValue(suffix, out var offset))
            {
                return TryUInt16((ushort)(0xC000 | offset));
            }

            // Pointers hold 14 bits of offset.
            if (_length < 0x3FFF)
            {
                _suffixes.TryAdd(suffix, _length);
            }

            if (!TryBytes([(byte)labels[i].Length]) || !TryBytes(labels[i]))
            {
                return false;
            }
        }

        return TryBytes([0]);
    }

    /// <summary>A dictionary key for the name's labels from <paramref name="index"/> on: their ASCII-lowered bytes joined by NUL.</summary>
    private static string SuffixKey(List<byte[]> labels, int index)
    {
        var parts = new string[labels.Count - index];
        for (var i = index; i < labels.Count; i++)
        {
            parts[i - index] = LowerAscii(labels[i]);
        }

        return string.Join('\0', parts);
    }

    private static string LowerAscii(byte[] label)
    {
        var chars = new char[label.Length];
        for (var i = 0; i < label.Length; i++)
        {
            var b = label[i];
            chars[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
        }

        return new string(chars);
    }

    private bool TryUInt16(ushort value)
    {
        if (_length + 2 > _buffer.Length)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
        return true;
    }

    private bool TryUInt32(uint value)
    {
        if (_length + 4 > _buffer.Length)
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
        return true;
    }

    private bool TryBytes(ReadOnlySpan<byte> bytes)
    {
        if (_length + bytes.Length > _buffer.Length)
        {
            return false;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
        return true;
    }
}
