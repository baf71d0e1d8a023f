using System.Buffers;
using System.Globalization;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace Kiln.Server.Grpc;

/// <summary>
/// One gRPC call on a Kestrel HTTP/2 stream: reads length-prefixed request messages from the
/// request body, writes response messages, and ends with the status in the trailers (or, when no
/// message was sent, in the headers: a Trailers-Only response).
/// </summary>
internal sealed class GrpcCall
{
    /// <summary>The gRPC content type.</summary>
    public const string ContentType = "application/grpc";

    /// <summary>How long a unary call's request may take to arrive and end.</summary>
    private static readonly TimeSpan RequestReadTimeout = TimeSpan.FromSeconds(60);

    private bool _sentMessage;

    public GrpcCall(HttpContext http)
    {
        Http = http;
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = ContentType;
    }

    /// <summary>The HTTP request and response of the call.</summary>
    public HttpContext Http { get; }

    /// <summary>Who called, for the records of writes.</summary>
    public string Caller => $"grpc:{Http.Connection.RemoteIpAddress}";

    /// <summary>True for <c>application/grpc</c> and its <c>+proto</c> or parameterised forms.</summary>
    public static bool IsGrpcContentType(string? contentType) =>
        contentType is not null
        && contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase)
        && (contentType.Length == ContentType.Length || contentType[ContentType.Length] is '+' or ';');

    /// <summary>Reads the next request message, the clean end of the stream, or a framing or parse error.</summary>
    public async ValueTask<GrpcMessage<T>> ReadMessageAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        var reader = Http.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            switch (GrpcFraming.TryReadFrame(buffer, GrpcLimits.MaxReceiveMessageSize, out var body, out var declared))
            {
                case FrameParse.Complete:
                    T message;
                    try
                    {
                        message = parser.ParseFrom(body);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        reader.AdvanceTo(body.End);
                        return GrpcMessage<T>.Error(GrpcStatusCode.InvalidArgument, $"the request is not a valid {typeof(T).Name} message: {e.Message}");
                    }

                    reader.AdvanceTo(body.End);
                    return GrpcMessage<T>.Of(message);

                case FrameParse.NeedMore when result.IsCompleted:
                    reader.AdvanceTo(buffer.End);
                    if (buffer.IsEmpty)
                    {
                        return GrpcMessage<T>.End;
                    }

                    return GrpcMessage<T>.Error(
                        GrpcStatusCode.Internal,
                        declared < 0
                            ? $"the request ends inside a message prefix ({buffer.Length} of {GrpcFraming.PrefixLength} bytes)"
                            : $"the request ends inside a message ({buffer.Length - GrpcFraming.PrefixLength} of {declared} bytes)");

                case FrameParse.NeedMore:
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    continue;

                case FrameParse.TooLarge:
                    reader.AdvanceTo(buffer.Start);
                    return GrpcMessage<T>.Error(
                        GrpcStatusCode.ResourceExhausted,
                        $"request message of {declared} bytes is larger than the limit of {GrpcLimits.MaxReceiveMessageSize} bytes");

                case FrameParse.Compressed:
                    reader.AdvanceTo(buffer.Start);
                    var encoding = Http.Request.Headers["grpc-encoding"].ToString();
                    return encoding.Length == 0 || encoding == "identity"
                        ? GrpcMessage<T>.Error(GrpcStatusCode.Internal, "a message is marked compressed but the call has no grpc-encoding")
                        : GrpcMessage<T>.Error(GrpcStatusCode.Unimplemented, $"grpc-encoding '{encoding}' is not supported (only identity)");

                default:
                    reader.AdvanceTo(buffer.Start);
                    return GrpcMessage<T>.Error(GrpcStatusCode.Internal, "a message prefix has a compressed flag other than 0 or 1");
            }
        }
    }

    /// <summary>
    /// Reads the one request message of a unary or server-streaming call and the end of the request
    /// stream after it; a missing, extra or broken message is an error status.
    /// </summary>
    public async ValueTask<GrpcMessage<T>> ReadUnaryAsync<T>(MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestReadTimeout);
        try
        {
            var first = await ReadMessageAsync(parser, timeout.Token).ConfigureAwait(false);
            if (!first.IsMessage)
            {
                return first.IsEnd
                    ? GrpcMessage<T>.Error(GrpcStatusCode.Internal, "the request stream ended without a message")
                    : first;
            }

            var next = await ReadMessageAsync(parser, timeout.Token).ConfigureAwait(false);
            if (next.IsMessage)
            {
                return GrpcMessage<T>.Error(GrpcStatusCode.Internal, "a unary call carries one request message, this one has more");
            }

            return next.Status.IsOk ? first : next;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return GrpcMessage<T>.Error(GrpcStatusCode.DeadlineExceeded, $"the request did not end within {RequestReadTimeout.TotalSeconds:0} s");
        }
    }

    /// <summary>Sends one response message, or returns an error status when it is too large to send.</summary>
    public async ValueTask<GrpcStatus> WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        var size = message.CalculateSize();
        if (size > GrpcLimits.MaxSendMessageSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.ResourceExhausted, $"response message of {size} bytes is larger than the limit of {GrpcLimits.MaxSendMessageSize} bytes");
        }

        var writer = Http.Response.BodyWriter;
        GrpcFraming.WritePrefix(writer.GetSpan(GrpcFraming.PrefixLength), size);
        writer.Advance(GrpcFraming.PrefixLength);
        message.WriteTo(writer);
        _sentMessage = true;
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return GrpcStatus.Ok;
    }

    /// <summary>Sends one response message that is already serialised (a stored ActionResult).</summary>
    public async ValueTask<GrpcStatus> WriteMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (message.Length > GrpcLimits.MaxSendMessageSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.ResourceExhausted, $"response message of {message.Length} bytes is larger than the limit of {GrpcLimits.MaxSendMessageSize} bytes");
        }

        var writer = Http.Response.BodyWriter;
        GrpcFraming.WritePrefix(writer.GetSpan(GrpcFraming.PrefixLength), message.Length);
        writer.Advance(GrpcFraming.PrefixLength);
        writer.Write(message.Span);
        _sentMessage = true;
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        return GrpcStatus.Ok;
    }

    /// <summary>
    /// Sends one ByteStream ReadResponse holding <paramref name="data"/>, encoded in place (field 10,
    /// length-delimited) so a chunk is copied once, from the store's buffer to the stream.
    /// </summary>
    public async ValueTask WriteReadResponseAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ReadResponseEncoding.Write(Http.Response.BodyWriter, data.Span);
        _sentMessage = true;
        await Http.Response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ends the call with <paramref name="status"/>: in the trailers, or in the headers when nothing was sent.</summary>
    public void Finish(GrpcStatus status)
    {
        var code = ((int)status.Code).ToString(CultureInfo.InvariantCulture);
        var message = GrpcStatus.PercentEncode(status.Message);
        if (!_sentMessage && !Http.Response.HasStarted)
        {
            Http.Response.Headers["grpc-status"] = code;
            if (message.Length > 0)
            {
                Http.Response.Headers["grpc-message"] = message;
            }

            return;
        }

        Http.Response.AppendTrailer("grpc-status", code);
        if (message.Length > 0)
        {
            Http.Response.AppendTrailer("grpc-message", message);
        }
    }
}
