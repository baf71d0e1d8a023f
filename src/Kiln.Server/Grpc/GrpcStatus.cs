using System.Text;

namespace Kiln.Server.Grpc;

/// <summary>How a gRPC call ended: a code and a message for people (sent percent-encoded).</summary>
public readonly record struct GrpcStatus(GrpcStatusCode Code, string Message)
{
    /// <summary>Success with no message.</summary>
    public static GrpcStatus Ok => new(GrpcStatusCode.Ok, "");

    /// <summary>True when the code is <see cref="GrpcStatusCode.Ok"/>.</summary>
    public bool IsOk => Code == GrpcStatusCode.Ok;

    /// <summary>A status with the given code and message.</summary>
    public static GrpcStatus Of(GrpcStatusCode code, string message) => new(code, message);

    /// <summary>
    /// The <c>grpc-message</c> form of <paramref name="message"/>: UTF-8, with every byte outside
    /// printable ASCII (0x20–0x7E) and '%' itself written as %XX, as the gRPC HTTP/2 spec asks.
    /// </summary>
    public static string PercentEncode(string message)
    {
        var needs = false;
        foreach (var c in message)
        {
            if (c is < ' ' or > '~' or '%')
            {
                needs = true;
                break;
            }
        }

        if (!needs)
        {
            return message;
        }

        var bytes = Encoding.UTF8.GetBytes(message);
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is < 0x20 or > 0x7E or (byte)'%')
            {
                sb.Append('%').Append(Convert.ToHexString([b]));
            }
            else
            {
                sb.Append((char)b);
            }
        }

        return sb.ToString();
    }

    /// <summary>Reverses <see cref="PercentEncode"/>; malformed escapes stay as they are.</summary>
    public static string PercentDecode(string encoded)
    {
        if (!encoded.Contains('%', StringComparison.Ordinal))
        {
            return encoded;
        }

        var bytes = new List<byte>(encoded.Length);
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.Add((byte)encoded[i]);
            }
        }

        return Encoding.UTF8.GetString([.. bytes]);
    }

    /// <inheritdoc/>
    public override string ToString() => Message.Length == 0 ? Code.ToString() : $"{Code}: {Message}";
}
