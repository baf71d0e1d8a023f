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
