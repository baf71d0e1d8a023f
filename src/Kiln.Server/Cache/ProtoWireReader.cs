namespace Kiln.Server.Cache;

/// <summary>
/// A forward-only reader of the protobuf wire format over bytes in memory: tags, varints and
/// length-delimited fields, and skipping of fields it is not asked about. Malformed input (a varint
/// longer than 10 bytes, a length past the end, a group or unknown wire type) ends the read with
/// <see cref="Error"/> set instead of throwing.
/// </summary>
internal ref struct ProtoWireReader(ReadOnlySpan<byte> data)
{
    /// <summary>Wire type of varint fields.</summary>
    public const int Varint = 0;

    /// <summary>Wire type of 64-bit fields.</summary>
    public const int Fixed64 = 1;

    /// <summary>Wire type of length-delimited fields (strings, bytes, messages).</summary>
    public const int LengthDelimited = 2;

    /// <summary>Wire type of 32-bit fields.</summary>
    public const int Fixed32 = 5;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    /// <summary>Why reading stopped early, or null while the input is well formed.</summary>
    public string? Error { get; private set; }

    /// <summary>Reads the next tag; false at the end of the input or on an error.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        field = 0;
        wireType = 0;
        if (Error is not null || _position >= _data.Length)
        {
            return false;
        }

        if (!TryReadVarint(out var tag))
        {
            return false;
        }

        if (tag >> 3 is 0 or > 536_870_911)
        {
            Error = "field number out of range";
            return false;
        }

        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        return true;
    }

    /// <summary>Reads a varint (at most 10 bytes).</summary>
    public bool TryReadVarint(out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (_position >= _data.Length)
            {
                Error = "truncated varint";
                return false;
            }

            var b = _data[_position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        Error = "varint longer than 10 bytes";
        return false;
    }

    /// <summary>Reads the payload of a length-delimited field.</summary>
    public bool TryReadLengthDelimited(out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!TryReadVarint(out var length))
        {
            return false;
        }

        if (length > (ulong)(_data.Length - _position))
        {
            Error = "length-delimited field runs past the end";
            return false;
        }

        payload = _data.Slice(_position, (int)length);
        _position += (int)length;
        return true;
    }

    /// <summary>Skips a field of the given wire type.</summary>
    public bool TrySkip(int wireType)
    {
        switch (wireType)
        {
            case Varint:
                return TryReadVarint(out _);
            case LengthDelimited:
                return TryReadLengthDelimited(out _);
            case Fixed64:
                return TryAdvance(8);
            case Fixed32:
                return TryAdvance(4);
            default:
                // Groups (3, 4) are deprecated and absent from REAPI; 6 and 7 do not exist.
                Error = $"unsupported wire type {wireType}";
                return false;
        }
    }

    private bool TryAdvance(int count)
    {
        if (_data.Length - _position < count)
        {
            Error = "fixed-width field runs past the end";
            return false;
        }

        _position += count;
        return true;
    }
}
