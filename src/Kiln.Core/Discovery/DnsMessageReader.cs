using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Kiln.Core.Discovery;

/// <summary>
/// Parses DNS messages with strict bounds: every length and count is checked against the bytes
/// present, compression pointers must point before the name run that uses them (so no loop can
/// form), names stay within 255 bytes and labels within 63. Malformed input is a failed parse
/// with a reason, never an exception or a hang.
/// </summary>
public static class DnsMessageReader
{
    private const int HeaderLength = 12;
    private const int MinQuestionLength = 5;
    private const int MinRecordLength = 11;

    /// <summary>Parses one message; false with a reason when the bytes are not a well-formed DNS message.</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out DnsMessage message, out string error)
    {
        message = new DnsMessage();
        if (packet.Length < HeaderLength)
        {
            error = $"message of {packet.Length} bytes is shorter than the 12-byte header";
            return false;
        }

        var id = BinaryPrimitives.ReadUInt16BigEndian(packet);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        int qd = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(packet[6..]);
        int ns = BinaryPrimitives.ReadUInt16BigEndian(packet[8..]);
        int ar = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        var room = packet.Length - HeaderLength;
        if ((long)qd * MinQuestionLength + (long)(an + ns + ar) * MinRecordLength > room)
        {
            error = $"counts ({qd} questions, {an + ns + ar} records) cannot fit in {room} bytes";
            return false;
        }

        var pos = HeaderLength;
        var questions = new List<DnsQuestion>(qd);
        for (var i = 0; i < qd; i++)
        {
            if (!TryReadName(packet, ref pos, packet.Length, out var name, out error))
            {
                error = $"question {i}: {error}";
                return false;
            }

            if (pos + 4 > packet.Length)
            {
                error = $"question {i}: type and class run past the end";
                return false;
            }

            var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
            var cls = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
            pos += 4;
            questions.Add(new DnsQuestion(name, type, (ushort)(cls & 0x7FFF), (cls & 0x8000) != 0));
        }

        var answers = new List<DnsRecord>(an);
        var authorities = new List<DnsRecord>(ns);
        var additionals = new List<DnsRecord>(ar);
        foreach (var (section, count, label) in new[] { (answers, an, "answer"), (authorities, ns, "authority"), (additionals, ar, "additional") })
        {
            for (var i = 0; i < count; i++)
            {
                if (!TryReadRecord(packet, ref pos, out var record, out error))
                {
                    error = $"{label} {i}: {error}";
                    return false;
                }

                section.Add(record);
            }
        }

        message = new DnsMessage
        {
            Id = id,
            Flags = flags,
            Questions = questions,
            Answers = answers,
            Authorities = authorities,
            Additionals = additionals,
        };
        error = "";
        return true;
    }

    private static bool TryReadRecord(ReadOnlySpan<byte> packet, ref int pos, out DnsRecord record, out string error)
    {
        record = null!;
        if (!TryReadName(packet, ref pos, packet.Length, out var name, out error))
        {
            return false;
        }

        if (pos + 10 > packet.Length)
        {
            error = "record header runs past the end";
            return false;
        }

        var type = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
        var cls = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
        var ttl = BinaryPrimitives.ReadUInt32BigEndian(packet[(pos + 4)..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 8)..]);
        pos += 10;
        var end = pos + length;
        if (end > packet.Length)
        {
            error = $"RDATA of {length} bytes runs past the end";
            return false;
        }

        if (!TryReadData(packet, pos, end, type, out var data, out error))
        {
            return false;
        }

        pos = end;
        record = new DnsRecord(name, type, ttl, data, (cls & 0x8000) != 0, (ushort)(cls & 0x7FFF));
        return true;
    }

    private static bool TryReadData(ReadOnlySpan<byte> packet, int pos, int end, DnsRecordType type, out DnsRecordData data, out string error)
    {
        data = null!;
        error = "";
        switch (type)
        {
            case DnsRecordType.A or DnsRecordType.Aaaa:
                var size = type == DnsRecordType.A ? 4 : 16;
                if (end - pos != size)
                {
                    error = $"{type} RDATA is {end - pos} bytes, not {size}";
                    return false;
                }

                data = new AddressData(new IPAddress(packet[pos..end]));
                return true;
            case DnsRecordType.Ptr:
                if (!TryReadName(packet, ref pos, end, out var target, out error))
                {
                    return false;
                }

                data = new PtrData(target);
                return true;
            case DnsRecordType.Srv:
                if (end - pos < 7)
                {
                    error = "SRV RDATA shorter than 7 bytes";
                    return false;
                }

                var priority = BinaryPrimitives.ReadUInt16BigEndian(packet[pos..]);
                var weight = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 2)..]);
                var port = BinaryPrimitives.ReadUInt16BigEndian(packet[(pos + 4)..]);
                pos += 6;
                if (!TryReadName(packet, ref pos, end, out var host, out error))
                {
                    return false;
                }

                data = new SrvData(priority, weight, port, host);
                return true;
            case DnsRecordType.Txt:
                var strings = new List<byte[]>();
                while (pos < end)
                {
                    int n = packet[pos++];
                    if (pos + n > end)
                    {
                        error = $"TXT string of {n} bytes runs past the RDATA";
                        return false;
                    }

                    if (n > 0)
                    {
                        strings.Add(packet[pos..(pos + n)].ToArray());
                    }

                    pos += n;
                }

                data = new TxtData(strings);
                return true;
            case DnsRecordType.Nsec:
                if (!TryReadName(packet, ref pos, end, out var next, out error))
                {
                    return false;
                }

                var types = new List<DnsRecordType>();
                while (pos < end)
                {
                    if (pos + 2 > end)
                    {
                        error = "NSEC window header runs past the RDATA";
                        return false;
                    }

                    int window = packet[pos];
                    int bytes = packet[pos + 1];
                    pos += 2;
                    if (bytes is 0 or > 32 || pos + bytes > end)
                    {
                        error = $"NSEC bitmap of {bytes} bytes is invalid here";
                        return false;
                    }

                    for (var b = 0; b < bytes; b++)
                    {
                        for (var bit = 0; bit < 8; bit++)
                        {
                            if ((packet[pos + b] & (0x80 >> bit)) != 0)
                            {
                                types.Add((DnsRecordType)(window * 256 + b * 8 + bit));
                            }
                        }
                    }

                    pos += bytes;
                }

                data = new NsecData(next, types);
                return true;
            default:
                data = new UnknownData(packet[pos..end].ToArray());
                return true;
        }
    }

    /// <summary>
    /// Reads a possibly compressed name starting at <paramref name="pos"/>; the uncompressed part
    /// must end by <paramref name="limit"/>. Each pointer must point before the start of the run
    /// that reached it, so offsets strictly decrease and a loop cannot form.
    /// </summary>
    private static bool TryReadName(ReadOnlySpan<byte> packet, ref int pos, int limit, out string name, out string error)
    {
        name = "";
        var text = new StringBuilder();
        var p = pos;
        var runStart = pos;
        var end = limit;
        var jumped = false;
        var total = 1;
        while (true)
        {
            if (p >= end)
            {
                error = "name runs past the end";
                return false;
            }

            int b = packet[p];
            if (b == 0)
            {
                p++;
                break;
            }

            if ((b & 0xC0) == 0xC0)
            {
                if (p + 1 >= end)
                {
                    error = "compression pointer runs past the end";
                    return false;
                }

                var target = ((b & 0x3F) << 8) | packet[p + 1];
                if (target >= runStart)
                {
                    error = $"compression pointer at {p} to {target} does not point backwards";
                    return false;
                }

                if (!jumped)
                {
                    pos = p + 2;
                    jumped = true;
                }

                // After the first jump the name may continue anywhere earlier in the whole message.
                end = packet.Length;
                runStart = target;
                p = target;
                continue;
            }

            if ((b & 0xC0) != 0)
            {
                error = $"label length byte 0x{b:x2} at {p} is not a label of at most 63 bytes nor a pointer";
                return false;
            }

            if (p + 1 + b > end)
            {
                error = $"label of {b} bytes at {p} runs past the end";
                return false;
            }

            total += b + 1;
            if (total > DnsName.MaxEncodedLength)
            {
                error = "name longer than 255 bytes";
                return false;
            }

            if (text.Length > 0)
            {
                text.Append('.');
            }

            text.Append(DnsName.EscapeLabel(Encoding.UTF8.GetString(packet.Slice(p + 1, b))));
            p += 1 + b;
        }

        if (!jumped)
        {
            pos = p;
        }

        name = text.ToString();
        error = "";
        return true;
    }
}
