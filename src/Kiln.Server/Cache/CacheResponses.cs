using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Kiln.Server.Cache;

/// <summary>
/// Writes the cache front ends' answers: every response carries Content-Length (Bazel and ccache's
/// HTTP client both rely on it) and goes out in one write where the body fits a buffer.
/// </summary>
internal static class CacheResponses
{
    /// <summary>Bodies up to this size are read whole and sent in one write; larger ones stream.</summary>
    private const int SingleWriteLimit = 1 << 20;

    /// <summary>The chunk size for streamed bodies.</summary>
    private const int StreamChunk = 256 * 1024;

    /// <summary>Answers with a status and an empty body.</summary>
    public static Task EmptyAsync(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        if (status != StatusCodes.Status204NoContent)
        {
            // RFC 9110 forbids Content-Length on 204; every other answer carries it.
            context.Response.ContentLength = 0;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Answers with a status and a one-line text body a person can act on. The answer is flushed
    /// before the handler returns: after an error Kestrel may drop the connection rather than
    /// drain an unread request body, and the client should still see why.
    /// </summary>
    public static async Task TextAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(message + "\n");
        response.ContentLength = bytes.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
        }

        if (status >= StatusCodes.Status400BadRequest && status != StatusCodes.Status404NotFound)
        {
            await response.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Answers <c>405</c> with the methods the path allows.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, string allow)
    {
        context.Response.Headers.Allow = allow;
        return TextAsync(context, StatusCodes.Status405MethodNotAllowed, $"method {context.Request.Method} not allowed here; use {allow}");
    }

    /// <summary>
    /// Answers 200 with <paramref name="blob"/> (<paramref name="length"/> bytes) as the body, or
    /// only the headers for HEAD. Disposes the blob.
    /// </summary>
    public static async Task BlobAsync(HttpContext context, Stream blob, long length, CancellationToken cancellationToken)
    {
        await using (blob.ConfigureAwait(false))
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/octet-stream";
            response.ContentLength = length;
            if (HttpMethods.IsHead(context.Request.Method) || length == 0)
            {
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(length, length <= SingleWriteLimit ? SingleWriteLimit : StreamChunk));
            try
            {
                if (length <= SingleWriteLimit)
                {
                    // A read of at most 1 MiB, nearly always from the page cache, is read in place:
                    // FileStream's ReadAsync hands it to another pool thread and back (13% of a small
                    // GET's CPU in perf, docs/benchmarks.md).
                    blob.ReadExactly(buffer.AsSpan(0, (int)length));
                    await response.Body.WriteAsync(buffer.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
                    return;
                }

                await response.StartAsync(cancellationToken).ConfigureAwait(false);
                var left = length;
                while (left > 0)
                {
                    var read = await blob.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new EndOfStreamException($"blob ended {left} bytes before its recorded size {length}");
                    }

                    await response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    left -= read;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
