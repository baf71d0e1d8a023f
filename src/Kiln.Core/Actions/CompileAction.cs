using Kiln.Core.Compile;
using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>
/// The action of one compile: compiler identity, the arguments that decide the output (input, output
/// and dependency-file names left out, as <see cref="CompileCommand.RemoteArguments"/> gives them), the
/// language and digest of the preprocessed input, and the locale that decides diagnostic text.
/// </summary>
public sealed record CompileAction(
    CompilerIdentity Compiler,
    IReadOnlyList<string> Arguments,
    SourceLanguage Language,
    Digest Input,
    string MessagesLocale)
{
    /// <summary>The version tag of the encoding; changing what goes in the key changes it.</summary>
    public const string EncodingTag = "kiln-compile-action-v1";

    /// <summary>The canonical encoding.</summary>
    public byte[] Encode() => Writer().ToArray();

    /// <summary>The action's key.</summary>
    public ActionKey Key => ActionKey.FromEncoding(Encode());

    /// <summary>Decodes a canonical encoding (a node rebuilding an action reads it from its CAS); null when the bytes are not one.</summary>
    public static CompileAction? Decode(ReadOnlySpan<byte> data)
    {
        var r = new CanonicalReader(data);
        if (r.String() != EncodingTag)
        {
            return null;
        }

        var binary = r.Digest();
        var target = r.String();
        var version = r.String();
        var count = r.Int();
        if (!r.Ok || count < 0 || count > 100_000 || target is null || version is null)
        {
            return null;
        }

        var arguments = new List<string>(Math.Min(count, 1024));
        for (var i = 0; i < count; i++)
        {
            arguments.Add(r.String() ?? "");
        }

        var language = (SourceLanguage)r.Int();
        var input = r.Digest();
        var locale = r.String();
        return r.Ok && r.AtEnd && locale is not null
            ? new CompileAction(new CompilerIdentity(binary, target, version), arguments, language, input, locale)
            : null;
    }

    private CanonicalWriter Writer() => new CanonicalWriter(EncodingTag)
        .Digest(Compiler.BinaryDigest)
        .String(Compiler.Target)
        .String(Compiler.Version)
        .Strings(Arguments)
        .Int((int)Language.Preprocessed())
        .Digest(Input)
        .String(MessagesLocale);

    /// <summary>
    /// The locale that decides the words and quotes of diagnostics, as the C library picks it:
    /// LC_ALL, else LC_MESSAGES, else LANG, else "C". Only this part of the environment changes a compile's result.
    /// </summary>
    public static string MessagesLocaleOf(IReadOnlyDictionary<string, string> locale)
    {
        foreach (var name in (ReadOnlySpan<string>)["LC_ALL", "LC_MESSAGES", "LANG"])
        {
            if (locale.TryGetValue(name, out var v) && v.Length > 0)
            {
                return v;
            }
        }

        return "C";
    }
}
