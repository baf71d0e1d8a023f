using Kiln.Core.Hashing;

namespace Kiln.Core.Actions;

/// <summary>One output file of an action: its name (relative, as the action names it), digest and mode.</summary>
public sealed record OutputFile(string Name, Digest Digest, int Mode = 0b110_100_100);

/// <summary>
/// What an action produced: exit code, stdout and stderr digests, output files. Its
/// <see cref="ResultDigest"/> is SHA-256 of the canonical encoding (outputs sorted by name), so two
/// builders that produced the same bytes sign the same ResultDigest.
/// </summary>
public sealed record ActionResult(int ExitCode, Digest Stdout, Digest Stderr, IReadOnlyList<OutputFile> Outputs)
{
    /// <summary>The version tag of the encoding.</summary>
    public const string EncodingTag = "kiln-result-v1";

    /// <summary>The canonical encoding (outputs in ordinal name order).</summary>
    public byte[] Encode()
    {
        var sorted = new List<OutputFile>(Outputs);
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var w = new CanonicalWriter(EncodingTag).Int(ExitCode).Digest(Stdout).Digest(Stderr).Int(sorted.Count);
        foreach (var o in sorted)
        {
            w.String(o.Name).Digest(o.Digest).Int(o.Mode);
        }

        return w.ToArray();
    }

    /// <summary>The digest two agreeing builders sign.</summary>
    public Digest ResultDigest => Digest.FromBytes(Encode());

    /// <summary>Every blob the result needs present to be served: stdout, stderr and each output.</summary>
    public IReadOnlyList<Digest> References()
    {
        var list = new List<Digest>(Outputs.Count + 2) { Stdout, Stderr };
        foreach (var o in Outputs)
        {
            list.Add(o.Digest);
        }

        return list;
    }

    /// <summary>Decodes a canonical encoding, or returns null when the bytes are not one.</summary>
    public static ActionResult? Decode(ReadOnlySpan<byte> data)
    {
        var r = new CanonicalReader(data);
        if (r.String() != EncodingTag)
        {
            return null;
        }

        var exit = r.Int();
        var stdout = r.Digest();
        var stderr = r.Digest();
        var count = r.Int();
        if (!r.Ok || count < 0 || count > 10_000)
        {
            return null;
        }

        var outputs = new List<OutputFile>(count);
        for (var i = 0; i < count; i++)
        {
            outputs.Add(new OutputFile(r.String() ?? "", r.Digest(), r.Int()));
        }

        return r.Ok && r.AtEnd ? new ActionResult(exit, stdout, stderr, outputs) : null;
    }
}
