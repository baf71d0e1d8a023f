using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Core.Protocol;

/// <summary>
/// JOB: names a compile before its input is sent. The ActionKey (all-zero when none) and the input
/// digest let a node answer from its cache as soon as JOB arrives; the rest is what a node needs to
/// run the compile. The input follows as INPUT frames totalling exactly <see cref="InputSize"/> bytes.
/// </summary>
public sealed record KilnJob
{
    /// <summary>The action's key, or <see cref="ActionKey.None"/>.</summary>
    public ActionKey ActionKey { get; init; }

    /// <summary>The SHA-256 of the input, or null when the client did not hash it. Its size is <see cref="InputSize"/>.</summary>
    public Digest? InputDigest { get; init; }

    /// <summary>Bytes of input that follow in INPUT frames (0, and not yet known, for a job sent <see cref="Ahead"/>).</summary>
    public required long InputSize { get; init; }

    /// <summary>
    /// Sent ahead of its input (<see cref="KilnFrameFlags.Ahead"/>): no key, no digest, size 0; the
    /// INPUT frames up to LAST are the input, however long, within the node's limit.
    /// </summary>
    public bool Ahead { get; init; }

    /// <summary>The language of the input (a preprocessed language for compiles).</summary>
    public required SourceLanguage Language { get; init; }

    /// <summary>The compiler name the client asks for (never a path).</summary>
    public required string Compiler { get; init; }

    /// <summary>The compile's arguments without input, output and <c>-c</c>.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The source file as the user named it, for logs.</summary>
    public string SourceName { get; init; } = "";

    /// <summary>The client's working directory, for logs and for keys that depend on it.</summary>
    public string WorkingDirectory { get; init; } = "";

    /// <summary>The client's locale variables (see <see cref="CompileJob.LocaleVariables"/>).</summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = s_noLocale;

    private static readonly Dictionary<string, string> s_noLocale = new(StringComparer.Ordinal);

    /// <summary>Null when the job fits the protocol's field limits, else what does not.</summary>
    public string? Validate()
    {
        if (Arguments.Count > ushort.MaxValue)
        {
            return $"{Arguments.Count} arguments exceed the Kiln protocol's {ushort.MaxValue}";
        }

        if (Locale.Count > byte.MaxValue)
        {
            return $"{Locale.Count} locale variables exceed the Kiln protocol's {byte.MaxValue}";
        }

        if (InputSize < 0 || (InputDigest is { } d && d.Size != InputSize))
        {
            return "the input digest's size differs from the input size";
        }

        if (Ahead && (InputSize != 0 || InputDigest is not null || !ActionKey.IsNone))
        {
            return "a job sent ahead of its input names no key, digest or size";
        }

        if (PayloadLength > KilnProtocol.MaxControlFrameLength)
        {
            return $"the job's arguments take {PayloadLength} bytes; the Kiln protocol allows {KilnProtocol.MaxControlFrameLength}";
        }

        foreach (var a in Arguments)
        {
            if (System.Text.Encoding.UTF8.GetByteCount(a) > ushort.MaxValue)
            {
                return "an argument is longer than the Kiln protocol's 65535 bytes";
            }
        }

        return null;
    }

    /// <summary>Size of the payload in bytes.</summary>
    public int PayloadLength
    {
        get
        {
            var length = ActionKey.Length + Digest.HashLength + 8 + 1 + KilnPayloadWriter.String16Size(Compiler) + 2;
            foreach (var a in Arguments)
            {
                length += KilnPayloadWriter.String16Size(a);
            }

            length += KilnPayloadWriter.String16Size(SourceName) + KilnPayloadWriter.String16Size(WorkingDirectory) + 1;
            foreach (var (name, value) in Locale)
            {
                length += KilnPayloadWriter.String16Size(name) + KilnPayloadWriter.String16Size(value);
            }

            return length;
        }
    }

    /// <summary>Size of the whole frame in bytes.</summary>
    public int FrameLength => KilnFrameHeader.Size + PayloadLength;

    /// <summary>Writes the frame (header and payload) and returns its length.</summary>
    public int WriteFrame(Span<byte> destination)
    {
        var length = PayloadLength;
        new KilnFrameHeader(KilnFrameType.Job, Ahead ? KilnFrameFlags.Ahead : KilnFrameFlags.None, length).Write(destination);
        var w = new KilnPayloadWriter(destination.Slice(KilnFrameHeader.Size, length));
        ActionKey.WriteTo(w.Reserve(ActionKey.Length));
        var hash = w.Reserve(Digest.HashLength);
        if (InputDigest is { } digest)
        {
            digest.WriteHash(hash);
        }
        else
        {
            hash.Clear();
        }

        w.U64((ulong)InputSize);
        w.U8((byte)Language);
        w.String16(Compiler);
        w.U16((ushort)Arguments.Count);
        foreach (var a in Arguments)
        {
            w.String16(a);
        }

        w.String16(SourceName);
        w.String16(WorkingDirectory);
        w.U8((byte)Locale.Count);
        foreach (var (name, value) in Locale)
        {
            w.String16(name);
            w.String16(value);
        }

        return KilnFrameHeader.Size + length;
    }

    /// <summary>Writes the frame to a buffer writer.</summary>
    public void WriteFrame(IBufferWriter<byte> writer) => writer.Advance(WriteFrame(writer.GetSpan(FrameLength)));

    /// <summary>Parses a JOB payload; <paramref name="flags"/> are its header's (<see cref="KilnFrameFlags.Ahead"/>).</summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnJob? job, [NotNullWhen(false)] out KilnError? error,
        KilnFrameFlags flags = KilnFrameFlags.None)
    {
        var ahead = (flags & KilnFrameFlags.Ahead) != 0;
        job = null;
        var r = new KilnPayloadReader(payload, "JOB");
        var keyBytes = r.Bytes(ActionKey.Length, "action key");
        var key = r.Error is null ? ActionKey.FromBytes(keyBytes) : default;
        var hashBytes = r.Bytes(Digest.HashLength, "input digest");
        var hasDigest = r.Error is null && hashBytes.ContainsAnyExcept((byte)0);
        var hash = hasDigest ? hashBytes.ToArray() : null;
        var size = r.U64("input size");
        var language = r.U8("language");
        var compiler = r.String16("compiler");
        var count = r.U16("argument count");
        var arguments = new List<string>(Math.Min((int)count, r.Remaining / 2));
        for (var i = 0; i < count && r.Error is null; i++)
        {
            arguments.Add(r.String16("argument"));
        }

        var sourceName = r.String16("source name");
        var workingDirectory = r.String16("working directory");
        var localeCount = r.U8("locale count");
        var locale = new Dictionary<string, string>(localeCount, StringComparer.Ordinal);
        for (var i = 0; i < localeCount && r.Error is null; i++)
        {
            var name = r.String16("locale name");
            var value = r.String16("locale value");
            if (r.Error is null && !locale.TryAdd(name, value))
            {
                r.Fail($"locale variable {name} appears twice");
            }
        }

        r.End();
        if (r.Error is null && size > long.MaxValue)
        {
            r.Fail($"input size {size} is not a valid size");
        }

        if (r.Error is null && ahead && (size != 0 || hash is not null || !key.IsNone))
        {
            r.Fail("a JOB flagged AHEAD names no action key, input digest or input size (all zero)");
        }

        if (r.Error is null && language > (byte)SourceLanguage.PreprocessedCxx)
        {
            r.Fail($"language {language} is not a language of protocol version 1");
        }

        if (r.Error is not null)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        job = new KilnJob
        {
            ActionKey = key,
            InputDigest = hash is null ? null : Digest.FromHash(hash, (long)size),
            InputSize = (long)size,
            Ahead = ahead,
            Language = (SourceLanguage)language,
            Compiler = compiler,
            Arguments = arguments,
            SourceName = sourceName,
            WorkingDirectory = workingDirectory,
            Locale = locale,
        };
        error = null;
        return true;
    }
}
