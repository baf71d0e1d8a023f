using System.Runtime.InteropServices;

namespace Kiln.Core.Distcc;

/// <summary>
/// LZO1X as distcc uses it on <c>,lzo</c> hosts: raw streams with no header and no uncompressed length,
/// compressed with <c>lzo1x_1_compress</c> and decompressed with <c>lzo1x_decompress_safe</c>, through
/// liblzo2 (Debian package liblzo2-2).
/// </summary>
public static partial class Lzo1x
{
    private const string Library = "liblzo2.so.2";

    // LZO1X_1_MEM_COMPRESS is 16384 dictionary entries of one pointer each.
    private static readonly int s_workMemoryBytes = 16384 * IntPtr.Size;

    // LZO 2.10's version number, checked by __lzo_init_v2 against the library's own.
    private const uint LzoVersion = 0x20a0;

    private const int LzoOk = 0;
    private const int LzoOutputOverrun = -5;

    private static readonly Lazy<int> s_init = new(() => LzoInit(
        LzoVersion, sizeof(short), sizeof(int), IntPtr.Size, sizeof(uint), IntPtr.Size, IntPtr.Size, IntPtr.Size, IntPtr.Size, 6 * IntPtr.Size));

    [LibraryImport(Library, EntryPoint = "__lzo_init_v2")]
    private static partial int LzoInit(uint version, int shortSize, int intSize, int longSize, int uint32Size, int uintSize,
        int dictSize, int charPtrSize, int voidPtrSize, int callbackSize);

    [LibraryImport(Library, EntryPoint = "lzo1x_1_compress")]
    private static unsafe partial int Compress1(byte* source, nuint sourceLength, byte* destination, ref nuint destinationLength, byte* workMemory);

    [LibraryImport(Library, EntryPoint = "lzo1x_decompress_safe")]
    private static unsafe partial int DecompressSafe(byte* source, nuint sourceLength, byte* destination, ref nuint destinationLength, byte* workMemory);

    /// <summary>True when liblzo2 loads and accepts this process's type sizes.</summary>
    public static bool IsAvailable
    {
        get
        {
            try
            {
                return s_init.Value == LzoOk;
            }
            catch (DllNotFoundException)
            {
                return false;
            }
        }
    }

    /// <summary>The most bytes <see cref="Compress"/> can produce for <paramref name="length"/> input bytes (LZO's documented worst case).</summary>
    public static int MaxCompressedLength(int length) => length + (length / 16) + 64 + 3;

    /// <summary>Compresses <paramref name="source"/> with LZO1X-1, as distcc's <c>dcc_compress_lzo1x_alloc</c> does.</summary>
    public static unsafe byte[] Compress(ReadOnlySpan<byte> source)
    {
        EnsureInitialized();
        var output = new byte[MaxCompressedLength(source.Length)];
        var work = new byte[s_workMemoryBytes];
        nuint outputLength = (nuint)output.Length;
        int result;
        fixed (byte* src = source)
        fixed (byte* dst = output)
        fixed (byte* wrk = work)
        {
            result = Compress1(src, (nuint)source.Length, dst, ref outputLength, wrk);
        }

        if (result != LzoOk)
        {
            // lzo1x_1_compress cannot fail on a buffer of the worst-case size: this is a bug, not input.
            throw new InvalidOperationException($"lzo1x_1_compress failed with {result}");
        }

        return output.AsSpan(0, (int)outputLength).ToArray();
    }

    /// <summary>
    /// Decompresses an LZO1X stream of unknown decompressed size, growing the output from 8× the input
    /// (as distcc guesses) up to <paramref name="maxLength"/> and no further, so a small hostile body
    /// cannot make the reader allocate more than the cap. Returns false with a message when the stream
    /// is corrupt, truncated, or decompresses to more than the cap.
    /// </summary>
    public static unsafe bool TryDecompress(ReadOnlySpan<byte> source, int maxLength, out byte[] output, out string? error)
    {
        EnsureInitialized();
        output = [];
        if (source.IsEmpty)
        {
            error = null;
            return true;
        }

        var capacity = (int)Math.Min(maxLength, Math.Max(4096L, 8L * source.Length));
        while (true)
        {
            var buffer = new byte[capacity];
            nuint length = (nuint)buffer.Length;
            int result;
            fixed (byte* src = source)
            fixed (byte* dst = buffer)
            {
                result = DecompressSafe(src, (nuint)source.Length, dst, ref length, null);
            }

            if (result == LzoOk)
            {
                output = length == (nuint)buffer.Length ? buffer : buffer.AsSpan(0, (int)length).ToArray();
                error = null;
                return true;
            }

            if (result != LzoOutputOverrun)
            {
                error = $"corrupt LZO1X stream of {source.Length} bytes (lzo1x_decompress_safe: {Describe(result)})";
                return false;
            }

            if (capacity >= maxLength)
            {
                error = $"LZO1X stream of {source.Length} bytes decompresses to more than the limit of {maxLength} bytes";
                return false;
            }

            capacity = (int)Math.Min(maxLength, 2L * capacity);
        }
    }

    private static void EnsureInitialized()
    {
        if (s_init.Value != LzoOk)
        {
            throw new InvalidOperationException($"liblzo2 refused initialisation ({s_init.Value})");
        }
    }

    private static string Describe(int code) => code switch
    {
        -1 => "error",
        -4 => "input overrun",
        -6 => "lookbehind overrun",
        -7 => "end of stream not found",
        -8 => "input not consumed",
        _ => code.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
