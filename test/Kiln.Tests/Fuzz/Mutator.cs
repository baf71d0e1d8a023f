using System.Buffers.Binary;

namespace Kiln.Tests.Fuzz;

/// <summary>
/// A deterministic mutation engine in the manner of AFL's havoc stage: each input is a seed from the
/// corpus with one to eight stacked mutations (bit flips, interesting bytes and lengths, inserted,
/// deleted, repeated or spliced runs, truncation). The same seed and corpus give the same inputs.
/// </summary>
internal sealed class Mutator(IReadOnlyList<byte[]> corpus, int seed)
{
    /// <summary>Values that find off-by-one and sign mistakes in length fields.</summary>
    private static readonly uint[] s_interesting =
        [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

    private readonly Random _random = new(seed);

    /// <summary>The next input: a mutated copy of a corpus entry.</summary>
    public byte[] Next()
    {
        var data = new List<byte>(corpus[_random.Next(corpus.Count)]);
        var rounds = 1 << _random.Next(4);
        for (var i = 0; i < rounds; i++)
        {
            Mutate(data);
        }

        return [.. data];
    }

    private void Mutate(List<byte> data)
    {
        switch (_random.Next(data.Count == 0 ? 2 : 11))
        {
            case 0:
                // Insert random bytes.
                var at = _random.Next(data.Count + 1);
                var count = 1 + _random.Next(16);
                for (var i = 0; i < count; i++)
                {
                    data.Insert(at, (byte)_random.Next(256));
                }

                break;
            case 1:
                // Splice: the tail of another corpus entry from a random point.
                var other = corpus[_random.Next(corpus.Count)];
                var from = other.Length == 0 ? 0 : _random.Next(other.Length);
                var cut = _random.Next(data.Count + 1);
                data.RemoveRange(cut, data.Count - cut);
                data.AddRange(other.AsSpan(from).ToArray());
                break;
            case 2:
                data[_random.Next(data.Count)] ^= (byte)(1 << _random.Next(8));
                break;
            case 3:
                data[_random.Next(data.Count)] = (byte)_random.Next(256);
                break;
            case 4:
                data[_random.Next(data.Count)] = (byte)s_interesting[_random.Next(9)];
                break;
            case 5:
                WriteInteresting(data, 2);
                break;
            case 6:
                WriteInteresting(data, 4);
                break;
            case 7:
                // Delete a run.
                var start = _random.Next(data.Count);
                data.RemoveRange(start, Math.Min(data.Count - start, 1 + _random.Next(32)));
                break;
            case 8:
                // Repeat a run.
                var s = _random.Next(data.Count);
                var run = data.GetRange(s, Math.Min(data.Count - s, 1 + _random.Next(64)));
                data.InsertRange(_random.Next(data.Count + 1), run);
                break;
            case 9:
                // Truncate.
                var keep = _random.Next(data.Count);
                data.RemoveRange(keep, data.Count - keep);
                break;
            default:
                // Eight ASCII hex digits, as distcc's headers carry their values.
                if (data.Count >= 8)
                {
                    var p = _random.Next(data.Count - 7);
                    var hex = s_interesting[_random.Next(s_interesting.Length)].ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
                    for (var i = 0; i < 8; i++)
                    {
                        data[p + i] = (byte)hex[i];
                    }
                }

                break;
        }
    }

    private void WriteInteresting(List<byte> data, int width)
    {
        if (data.Count < width)
        {
            return;
        }

        var p = _random.Next(data.Count - width + 1);
        Span<byte> bytes = stackalloc byte[4];
        var value = s_interesting[_random.Next(s_interesting.Length)];
        if (_random.Next(2) == 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        }

        for (var i = 0; i < width; i++)
        {
            data[p + i] = bytes[i + (4 - width)];
        }
    }
}
