using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Kiln.Core.Agent;

/// <summary>
/// The line a client sends the agent first on a new connection: which node to reach over TLS, the
/// certificate fingerprint the node must present, and the client certificate to offer. The Kiln
/// protocol follows on the same connection, unchanged (the agent splices it onto the TLS connection).
/// Tab-separated UTF-8 fields, ended by a newline:
/// <c>KILN-AGENT/1 TAB host TAB port TAB fingerprint TAB client-certificate-file-or-empty LF</c>.
/// </summary>
public sealed record KilnAgentRequest(string Host, int Port, string Fingerprint, string? ClientCertificateFile)
{
    /// <summary>The first field: the agent protocol's name and version.</summary>
    public const string Magic = "KILN-AGENT/1";

    /// <summary>The longest line an agent reads, newline included.</summary>
    public const int MaxLength = 4096;

    /// <summary>The node as hosts lists and known-hosts files name it.</summary>
    public string Node => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>The line, or null when a field cannot be carried (a tab or line break in it, or too long).</summary>
    public byte[]? ToLine()
    {
        string[] fields = [Host, Fingerprint, ClientCertificateFile ?? ""];
        foreach (var field in fields)
        {
            if (field.AsSpan().IndexOfAny('\t', '\n', '\r') >= 0 || field.Contains('\0', StringComparison.Ordinal))
            {
                return null;
            }
        }

        var line = Encoding.UTF8.GetBytes(string.Join('\t', Magic, Host, Port.ToString(CultureInfo.InvariantCulture), Fingerprint, ClientCertificateFile ?? "") + "\n");
        return line.Length <= MaxLength ? line : null;
    }

    /// <summary>Parses a line without its newline.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, [NotNullWhen(true)] out KilnAgentRequest? request, [NotNullWhen(false)] out string? error)
    {
        request = null;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(line);
        }
        catch (DecoderFallbackException)
        {
            error = "the request is not UTF-8";
            return false;
        }

        var fields = text.Split('\t');
        if (fields.Length != 5 || fields[0] != Magic)
        {
            error = $"expected '{Magic}' and four tab-separated fields";
            return false;
        }

        if (fields[1].Length is 0 or > 255 || fields[1].AsSpan().IndexOfAny(' ', '/', '\0') >= 0)
        {
            error = "bad host";
            return false;
        }

        if (!int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = "bad port";
            return false;
        }

        if (fields[3].Length is 0 or > 512 || fields[3].Contains(' ', StringComparison.Ordinal))
        {
            error = "bad fingerprint";
            return false;
        }

        if (fields[4].Length > 0 && !Path.IsPathFullyQualified(fields[4]))
        {
            error = "the client certificate's path is not absolute";
            return false;
        }

        request = new KilnAgentRequest(fields[1], port, fields[3], fields[4].Length > 0 ? fields[4] : null);
        error = null;
        return true;
    }
}
