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
