using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Kiln.Core.Cas;
using Kiln.Core.Security;
using Kiln.Server.Security;
using Kiln.Server.Trust;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Cache;

/// <summary>
/// The small-blob GET path of ccache remote storage, answered on the HTTP listener's connection
/// before Kestrel's HTTP layer. ccache asks for many small entries, one request at a time per
/// connection, and for those requests the general HTTP machinery (request objects, routing,
/// middleware, response headers) cost more than the lookup itself (perf, docs/benchmarks.md).
/// <para>
/// It answers only what it can answer exactly as the routed handler would: <c>GET</c> or <c>HEAD</c>
/// of a valid <c>/ccache/</c> key on HTTP/1.1, without a body, query or escapes, from an identity
/// allowed to read, for an entry up to 1 MiB (or a miss). Anything else, from the first byte of the
/// request on, is handed to Kestrel with the rest of the connection, so every other request (PUT,
/// errors, 401 and 403 with their audit records, trust-policy URLs, large blobs) keeps its one
/// implementation in <see cref="CcacheEndpoints"/>.
/// </para>
/// </summary>
internal sealed class CcacheFastPath
{
    /// <summary>A request head longer than this goes to Kestrel, which applies its own limits.</summary>
    private const int MaxHeadBytes = 8 * 1024;

    /// <summary>Entries up to this size are answered here, read whole into the response.</summary>
    private const int MaxBodyBytes = 1 << 20;

    /// <summary>How long a connection may sit between requests, as Kestrel's default keep-alive timeout.</summary>
    private static readonly TimeSpan s_keepAlive = TimeSpan.FromSeconds(130);

    /// <summary>How long the rest of a started request head may take, as Kestrel's request-headers timeout.</summary>
    private static readonly TimeSpan s_headTimeout = TimeSpan.FromSeconds(30);

    private static readonly byte[] s_notFound = Encoding.ASCII.GetBytes(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n");

    private static ReadOnlySpan<byte> NotFoundBody => "no such entry\n"u8;

    private static readonly byte[] s_okHead = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ");

    private readonly IActionCache _entries;
    private readonly IContentStore _store;
    private readonly NodeAuthenticator _authenticator;
    private readonly CacheFrontEndCounters _counters;
    private readonly IResultGate? _gate;
    private DateLine? _date;

    public CcacheFastPath(IServiceProvider services)
    {
        _entries = services.GetRequiredService<IActionCache>();
        _store = services.GetRequiredService<IContentStore>();
        _authenticator = services.GetRequiredService<NodeAuthenticator>();
        _counters = services.GetRequiredService<CacheCounters>().Ccache;
        _gate = services.GetService<IResultGate>();
    }

    /// <summary>The connection middleware: answers what it can, then hands the connection to <paramref name="next"/>.</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => connection => RunAsync(connection, next);

    private async Task RunAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);

        // A stopping node asks its connections to close: a wait for the next request ends at once
        // (the read returns cancelled), an answer in hand is finished first. Without this, a kept
        // connection would hold the node's stop for up to its keep-alive time.
        var closeRequested = connection.Features.Get<IConnectionLifetimeNotificationFeature>()?.ConnectionClosedRequested ?? default;
        using var stop = closeRequested.UnsafeRegister(static reader => ((PipeReader)reader!).CancelPendingRead(), input);
        var waitingForMore = false;
        while (true)
        {
            ReadResult read;
            timeout.CancelAfter(waitingForMore ? s_headTimeout : s_keepAlive);
            try
            {
                read = await input.ReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or IOException)
            {
                // Idle past keep-alive, a head that never ends, or the peer went away (a reset, as wrk
                // and browsers end connections): close quietly, as Kestrel would.
                return;
            }

            var buffer = read.Buffer;
            if (read.IsCanceled && closeRequested.IsCancellationRequested)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                return;
            }

            var parse = Parse(buffer, out var request);
            if (parse == ParseOutcome.Incomplete && !read.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                waitingForMore = buffer.Length > 0;
                continue;
            }

            if (parse == ParseOutcome.Incomplete && buffer.IsEmpty)
            {
                // The peer closed between requests.
                input.AdvanceTo(buffer.End);
                return;
            }

            if (parse == ParseOutcome.Fast && await TryAnswerAsync(request, address, output, timeout.Token).ConfigureAwait(false))
            {
                input.AdvanceTo(buffer.GetPosition(request.HeadLength));
                timeout.CancelAfter(s_headTimeout);
                try
                {
                    var flushed = await output.FlushAsync(timeout.Token).ConfigureAwait(false);
                    if (flushed.IsCompleted || request.Close)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or IOException)
                {
                    return;
                }

                waitingForMore = false;
                continue;
            }

            // Not ours (or the peer half-closed mid-request): Kestrel reads the same bytes from the start.
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);
            input.AdvanceTo(buffer.Start, buffer.Start);

            // Kestrel watches the stop itself, and its reads must not see this path's cancellation.
            await stop.DisposeAsync().ConfigureAwait(false);
            await next(connection).ConfigureAwait(false);
            return;
        }
    }

    private enum ParseOutcome
    {
        Incomplete,
        Fast,
        Other,
    }

    private readonly record struct FastRequest(bool Head, CcacheKey Key, string? Token, bool Close, int HeadLength);

    /// <summary>
    /// Reads one request head from the start of <paramref name="buffer"/>. Fast only for the exact
    /// shape this path answers; any doubt is Other, and Kestrel decides.
    /// </summary>
    private static ParseOutcome Parse(ReadOnlySequence<byte> buffer, out FastRequest request)
    {
        request = default;
        var available = (int)Math.Min(buffer.Length, MaxHeadBytes);
        ReadOnlySpan<byte> head;
        if (buffer.FirstSpan.Length >= available)
        {
            head = buffer.FirstSpan[..available];
        }
        else
        {
            var rented = new byte[available];
            buffer.Slice(0, available).CopyTo(rented);
            head = rented;
        }

        var end = head.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return buffer.Length >= MaxHeadBytes ? ParseOutcome.Other : ParseOutcome.Incomplete;
        }

        var headLength = end + 4;
        var lineEnd = head.IndexOf("\r\n"u8);
        var line = head[..lineEnd];
        bool isHead;
        if (line.StartsWith("GET "u8))
        {
            isHead = false;
            line = line[4..];
        }
        else if (line.StartsWith("HEAD "u8))
        {
            isHead = true;
            line = line[5..];
        }
        else
        {
            return ParseOutcome.Other;
        }

        var space = line.IndexOf((byte)' ');
        if (space < 0 || !line[(space + 1)..].SequenceEqual("HTTP/1.1"u8))
        {
            return ParseOutcome.Other;
        }

        var target = line[..space];
        if (!target.StartsWith("/ccache/"u8) || target.Length > 512)
        {
            return ParseOutcome.Other;
        }

        foreach (var b in target)
        {
            // Only what a ccache key path is made of: no query, no escapes, no dot segments' surprises.
            if (!(char.IsAsciiLetterOrDigit((char)b) || b == (byte)'/' || b == (byte)'-' || b == (byte)'_'))
            {
                return ParseOutcome.Other;
            }
        }

        Span<char> path = stackalloc char[target.Length - CcacheEndpoints.Prefix.Length];
        for (var i = 0; i < path.Length; i++)
        {
            path[i] = (char)target[CcacheEndpoints.Prefix.Length + i];
        }

        if (!CcachePathParser.TryParse(path, out var key, out _))
        {
            return ParseOutcome.Other;
        }

        string? token = null;
        var close = false;
        var host = false;
        // Each header line with its CRLF; empty when the request line is the whole head.
        var headers = head[(lineEnd + 2)..(end + 2)];
        while (!headers.IsEmpty)
        {
            var next = headers.IndexOf("\r\n"u8);
            var field = next < 0 ? headers : headers[..next];
            headers = next < 0 ? default : headers[(next + 2)..];
            var colon = field.IndexOf((byte)':');
            if (colon <= 0 || field[0] is (byte)' ' or (byte)'\t' || field[..colon].IndexOfAny((byte)' ', (byte)'\t') >= 0)
            {
                return ParseOutcome.Other;
            }

            var name = field[..colon];
            var value = field[(colon + 1)..].Trim(" \t"u8);
            if (value.IndexOfAny((byte)'\r', (byte)'\n', (byte)0) >= 0)
            {
                return ParseOutcome.Other;
            }

            if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "Host"u8))
            {
                if (host)
                {
                    return ParseOutcome.Other;
                }

                host = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Authorization"u8))
            {
                if (token is not null || !Ascii.IsValid(value))
                {
                    return ParseOutcome.Other;
                }

                token = HttpAccessControl.TokenOf(Encoding.ASCII.GetString(value)) ?? "";
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                close |= Encoding.ASCII.GetString(value).Contains("close", StringComparison.OrdinalIgnoreCase);
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!value.SequenceEqual("0"u8))
                {
                    return ParseOutcome.Other;
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) || Ascii.EqualsIgnoreCase(name, "Expect"u8)
                || Ascii.EqualsIgnoreCase(name, "Upgrade"u8))
            {
                return ParseOutcome.Other;
            }
        }

        // HTTP/1.1 requires Host; without it Kestrel's 400 is the answer.
        if (!host)
        {
            return ParseOutcome.Other;
        }

        request = new FastRequest(isHead, key, token, close, headLength);
        return ParseOutcome.Fast;
    }

    /// <summary>Writes the answer to <paramref name="output"/>; false (nothing written) when Kestrel should answer instead.</summary>
    private async ValueTask<bool> TryAnswerAsync(FastRequest request, IPAddress? address, PipeWriter output, CancellationToken cancellationToken)
    {
        var identity = _authenticator.Authenticate(request.Token, null, address).Identity;
        if (identity is null || !identity.Has(Role.Read))
        {
            // 401 and 403 are written, and audited, by HttpAccessControl.
            return false;
        }

        var hex = request.Key.Hex;
        var entry = await _entries.GetAsync(CcacheEndpoints.Namespace, hex, cancellationToken).ConfigureAwait(false);
        if (entry is not null && entry.Value.Size > MaxBodyBytes)
        {
            return false;
        }

        if (entry is not null && _gate is not null)
        {
            var who = address?.ToString() ?? "unknown";
            if (!await _gate.MayServeAsync(CcacheEndpoints.Namespace, hex, entry.Value, new ResultConsumer("ccache", who, who, null), cancellationToken)
                .ConfigureAwait(false))
            {
                entry = null;
            }
        }

        var length = (int)(entry?.Value.Size ?? 0);
        var body = request.Head ? 0 : length;
        if (entry is not null && length <= FileContentStore.SmallBlobBytes && _store is FileContentStore files)
        {
            // Usually from memory: a small blob read once is kept in memory, so no file is opened.
            if (files.ReadSmall(entry.Value) is { } bytes)
            {
                var head = WriteHead(output, length, body, out var start);
                bytes.AsSpan(0, body).CopyTo(head[start..]);
                output.Advance(start + body);
                _counters.Hit(body);
                return true;
            }

            entry = null;
        }

        var blob = entry is null ? null : await _store.OpenReadAsync(entry.Value, cancellationToken).ConfigureAwait(false);
        if (blob is null)
        {
            _counters.Miss();
            WriteNotFound(output, request.Head);
            return true;
        }

        using (blob)
        {
            var span = WriteHead(output, length, body, out var at);
            if (body > 0)
            {
                // Nearly always from the page cache: read in place, as CacheResponses.BlobAsync does.
                try
                {
                    blob.ReadExactly(span.Slice(at, body));
                }
                catch (EndOfStreamException)
                {
                    // The blob is shorter than its record: nothing was committed to the pipe yet.
                    return false;
                }
            }

            output.Advance(at + body);
            _counters.Hit(body);
            return true;
        }
    }

    /// <summary>
    /// Lays a 200 head for a body of <paramref name="length"/> bytes into the pipe's buffer, with room
    /// for <paramref name="body"/> bytes after it at <paramref name="at"/>; nothing is committed yet.
    /// </summary>
    private Span<byte> WriteHead(PipeWriter output, int length, int body, out int at)
    {
        var date = Date();
        Span<byte> digits = stackalloc byte[11];
        length.TryFormat(digits, out var written, provider: System.Globalization.CultureInfo.InvariantCulture);
        var span = output.GetSpan(s_okHead.Length + written + 2 + date.Length + 2 + body);
        s_okHead.CopyTo(span);
        at = s_okHead.Length;
        digits[..written].CopyTo(span[at..]);
        at += written;
        "\r\n"u8.CopyTo(span[at..]);
        at += 2;
        date.CopyTo(span[at..]);
        at += date.Length;
        "\r\n"u8.CopyTo(span[at..]);
        at += 2;
        return span;
    }

    private void WriteNotFound(PipeWriter output, bool head)
    {
        var date = Date();
        var length = s_notFound.Length + date.Length + 2 + (head ? 0 : NotFoundBody.Length);
        var span = output.GetSpan(length);
        s_notFound.CopyTo(span);
        date.CopyTo(span[s_notFound.Length..]);
        "\r\n"u8.CopyTo(span[(s_notFound.Length + date.Length)..]);
        if (!head)
        {
            NotFoundBody.CopyTo(span[(s_notFound.Length + date.Length + 2)..]);
        }

        output.Advance(length);
    }

    /// <summary>The <c>Date:</c> header line (RFC 9110 asks origin servers with a clock to send it), made once a second.</summary>
    private byte[] Date()
    {
        var now = DateTimeOffset.UtcNow;
        var second = now.ToUnixTimeSeconds();
        if (_date is { } cached && cached.Second == second)
        {
            return cached.Header;
        }

        var header = Encoding.ASCII.GetBytes("Date: " + now.ToString("r", System.Globalization.CultureInfo.InvariantCulture) + "\r\n");
        _date = new DateLine(second, header);
        return header;
    }

    private sealed record DateLine(long Second, byte[] Header);
}
