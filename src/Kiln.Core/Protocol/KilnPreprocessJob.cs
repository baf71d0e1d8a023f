using System.Diagnostics.CodeAnalysis;
using Kiln.Core.Hashing;

namespace Kiln.Core.Protocol;

/// <summary>
/// One file of a PREPROCESS frame: its name as the client's preprocessor named it (relative to the
/// working directory, or absolute), its digest, and its content, which the client sends for every
/// file outside <c>/usr</c>; a file under <c>/usr</c> travels as its digest alone, and the node uses
/// its own copy only when that copy has the same digest.
/// </summary>
public sealed record KilnPreprocessFile(string Name, Digest Digest, ReadOnlyMemory<byte>? Content);

/// <summary>
/// PREPROCESS (docs/protocol.md, remote preprocessing): a compile the node preprocesses itself, from
/// the unpreprocessed command line and the files the client's manifest says it reads, each at the
/// client's own path inside the job's sandbox. The node answers RESULT, BUSY or ERROR as for JOB, and
/// on success records the manifest entry under <see cref="ManifestKey"/> for the asking identity.
/// </summary>
public sealed record KilnPreprocessJob
{
    /// <summary>The most files one PREPROCESS names (the count is 16 bits).</summary>
    public const int MaxFiles = ushort.MaxValue;

    /// <summary>The client's manifest key for the compile (never all zero).</summary>
    public required ActionKey ManifestKey { get; init; }

    /// <summary>The compiler name, as for JOB.</summary>
    public required string Compiler { get; init; }

    /// <summary>Every argument after the compiler, unstripped: include options, macros, the source, -o.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }

    /// <summary>The client's working directory, absolute; the compile runs there inside the sandbox.</summary>
    public required string WorkingDirectory { get; init; }

    /// <summary>The client's locale variables.</summary>
    public IReadOnlyDictionary<string, string> Locale { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The files the compile reads.</summary>
    public required IReadOnlyList<KilnPreprocessFile> Files { get; init; }

    private int PayloadLength
    {
        get
        {
            var length = ActionKey.Length + KilnPayloadWriter.String16Size(Compiler) + 2 + KilnPayloadWriter.String16Size(WorkingDirectory) + 1 + 2;
            foreach (var a in Arguments)
            {
                length += KilnPayloadWriter.String16Size(a);
            }

            foreach (var (name, value) in Locale)
            {
                length += KilnPayloadWriter.String16Size(name) + KilnPayloadWriter.String16Size(value);
            }

            foreach (var f in Files)
            {
                length += KilnPayloadWriter.String16Size(f.Name) + Digest.HashLength + 8 + 1 + (f.Content is { } c ? KilnPayloadWriter.Blob32Size(c.Length) : 0);
            }

            return length;
        }
    }

    /// <summary>Why this job cannot be sent (too many files or arguments, too large), or null.</summary>
    public string? Validate()
    {
        if (Files.Count > MaxFiles || Arguments.Count > ushort.MaxValue || Locale.Count > byte.MaxValue)
        {
            return $"{Files.Count} files, {Arguments.Count} arguments or {Locale.Count} locale variables exceed the frame's counts";
        }

        var length = PayloadLength;
        return length > KilnProtocol.MaxControlFrameLength
            ? $"the files and arguments take {length} bytes; PREPROCESS allows {KilnProtocol.MaxControlFrameLength}"
            : null;
    }

    /// <summary>The whole frame, header included. Call <see cref="Validate"/> first.</summary>
    public byte[] ToFrame()
    {
        var length = PayloadLength;
        var frame = new byte[KilnFrameHeader.Size + length];
        new KilnFrameHeader(KilnFrameType.Preprocess, KilnFrameFlags.None, length).Write(frame);
        var w = new KilnPayloadWriter(frame.AsSpan(KilnFrameHeader.Size));
        ManifestKey.WriteTo(w.Reserve(ActionKey.Length));
        w.String16(Compiler);
        w.U16((ushort)Arguments.Count);
        foreach (var a in Arguments)
        {
            w.String16(a);
        }

        w.String16(WorkingDirectory);
        w.U8((byte)Locale.Count);
        foreach (var (name, value) in Locale)
        {
            w.String16(name);
            w.String16(value);
        }

        w.U16((ushort)Files.Count);
        foreach (var f in Files)
        {
            w.String16(f.Name);
            f.Digest.WriteHash(w.Reserve(Digest.HashLength));
            w.U64((ulong)f.Digest.Size);
            w.U8(f.Content is null ? (byte)0 : (byte)1);
            if (f.Content is { } content)
            {
                w.Blob32(content.Span);
            }
        }

        return frame;
    }

    /// <summary>
    /// Parses a PREPROCESS payload: a manifest key that is not all zero, an absolute working directory,
    /// file names without NUL and without empty names, each name once, and every content matching
    /// its digest.
    /// </summary>
    public static bool TryParse(ReadOnlyMemory<byte> payload, [NotNullWhen(true)] out KilnPreprocessJob? job, [NotNullWhen(false)] out KilnError? error)
    {
        job = null;
        var r = new KilnPayloadReader(payload, "PREPROCESS");
        var keyBytes = r.Bytes(ActionKey.Length, "manifest key");
        var manifestKey = r.Error is null ? ActionKey.FromBytes(keyBytes) : ActionKey.None;
        var compiler = r.String16("compiler");
        var count = r.U16("argument count");
        var arguments = new List<string>(Math.Min((int)count, r.Remaining / 2));
        for (var i = 0; i < count && r.Error is null; i++)
        {
            arguments.Add(r.String16("argument"));
        }

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

        var fileCount = r.U16("file count");
        var files = new List<KilnPreprocessFile>(Math.Min((int)fileCount, r.Remaining / 43));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < fileCount && r.Error is null; i++)
        {
            var name = r.String16("file name");
            var hash = r.Bytes(Digest.HashLength, "file SHA-256").ToArray();
            var size = r.U64("file size");
            var hasContent = r.U8("has content");
            var content = hasContent == 1 ? r.Blob32("file content") : default;
            if (r.Error is not null)
            {
                break;
            }

            if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal) || size > long.MaxValue || hasContent > 1 || !names.Add(name))
            {
                r.Fail($"file {i} has an empty, repeated or NUL-bearing name, an impossible size or a bad content flag");
                break;
            }

            var digest = Digest.FromHash(hash, (long)size);
            if (hasContent == 1 && (content.Length != digest.Size || Digest.FromBytes(content.Span) != digest))
            {
                r.Fail($"the content sent for {name} does not have the SHA-256 and size it names");
                break;
            }

            // Not a conditional expression: a default would convert to a present, empty file.
            ReadOnlyMemory<byte>? kept = null;
            if (hasContent == 1)
            {
                kept = content;
            }

            files.Add(new KilnPreprocessFile(name, digest, kept));
        }

        r.End();
        if (r.Error is null && manifestKey.IsNone)
        {
            r.Fail("the manifest key is all zero");
        }

        if (r.Error is null && (!workingDirectory.StartsWith('/') || workingDirectory.Contains('\0', StringComparison.Ordinal)))
        {
            r.Fail("the working directory is not an absolute path");
        }

        if (r.Error is not null)
        {
            error = new KilnError(KilnErrorCode.MalformedFrame, r.Error);
            return false;
        }

        job = new KilnPreprocessJob
        {
            ManifestKey = manifestKey,
            Compiler = compiler,
            Arguments = arguments,
            WorkingDirectory = workingDirectory,
            Locale = locale,
            Files = files,
        };
        error = null;
        return true;
    }
}
