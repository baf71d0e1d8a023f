using System.Net.Sockets;
using System.Text;

namespace Kiln.Tests.Cache;

/// <summary>Sends hand-written HTTP/1.1 bytes (paths and bodies HttpClient would not send) and reads the status line.</summary>
internal static class RawHttp
{
    /// <summary>
    /// Sends <paramref name="head"/> (request line and headers, without the blank line) and then
    /// <paramref name="body"/>, if any, then half-closes the socket (the server sees the body end
    /// there), and returns the status code of the answer, or 0 when the server closed without one.
    /// </summary>
    public static async Task<int> SendAsync(Uri server, string head, byte[]? body = null) =>
        (await ExchangeAsync(server, head, body)).Status;

    /// <summary>As <see cref="SendAsync"/>, also returning the answer's text (or the socket error).</summary>
    public static async Task<(int Status, string Text)> ExchangeAsync(Uri server, string head, byte[]? body = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.Host, server.Port, cts.Token);
        var request = Encoding.ASCII.GetBytes(head.TrimEnd() + "\r\nHost: " + server.Authority + "\r\nConnection: close\r\n\r\n");
        await socket.SendAsync(request, cts.Token);
        if (body is not null)
        {
            // Only a request with a (short) body half-closes: the server then sees the body end early.
            await socket.SendAsync(body, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
        }

        var answer = new MemoryStream();
        var buffer = new byte[4096];
        var error = "";
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, cts.Token)) > 0 && answer.Length < 1 << 20)
            {
                answer.Write(buffer, 0, read);
            }
        }
        catch (SocketException e)
        {
            error = " [" + e.SocketErrorCode + "]";
        }

        var text = Encoding.ASCII.GetString(answer.ToArray());
        var status = text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) ? int.Parse(text.AsSpan(9, 3)) : 0;
        return (status, text + error);
    }
}

/// <summary>One parsed HTTP/1.1 response: status, headers (names lower-cased), body.</summary>
internal sealed record RawHttpResponse(int Status, Dictionary<string, string> Headers, byte[] Body);

/// <summary>
/// Reads HTTP/1.1 responses with a Content-Length body, one after another, from a kept connection;
/// bytes past one response (pipelined answers) wait for the next read.
/// </summary>
internal sealed class RawHttpResponseReader(Socket socket)
{
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[8192];

    /// <summary>Bytes received past the responses read so far.</summary>
    public int Pending => _pending.Count;

    /// <summary>Reads one response; <paramref name="head"/> for the answer to a HEAD, which has no body whatever its Content-Length says.</summary>
    public async Task<RawHttpResponse> ReadAsync(CancellationToken cancellationToken, bool head = false)
    {
        while (true)
        {
            var end = _pending.ToArray().AsSpan().IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var lines = Encoding.ASCII.GetString([.. _pending.GetRange(0, end)]).Split("\r\n");
                var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
                var length = head ? 0 : int.Parse(headers.GetValueOrDefault("content-length", "0"));
                if (_pending.Count >= end + 4 + length)
                {
                    var response = new RawHttpResponse(int.Parse(lines[0].AsSpan(9, 3)), headers, [.. _pending.GetRange(end + 4, length)]);
                    _pending.RemoveRange(0, end + 4 + length);
                    return response;
                }
            }

            var read = await socket.ReceiveAsync(_buffer, cancellationToken);
            Assert.True(read > 0, "the server closed the connection before its answer was complete");
            _pending.AddRange(_buffer.AsSpan(0, read).ToArray());
        }
    }
}
