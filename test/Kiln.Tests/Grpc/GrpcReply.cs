using System.Buffers.Binary;
using System.Net;

namespace Kiln.Tests.Grpc;

/// <summary>What a gRPC call returned, as seen on the wire.</summary>
public sealed record GrpcReply(HttpStatusCode HttpStatus, string? ContentType, int? Status, string Message, bool TrailersOnly, List<byte[]> Messages)
{
    public static GrpcReply From(HttpResponseMessage response, byte[] body)
    {
        string? Header(string name) =>
            response.TrailingHeaders.TryGetValues(name, out var t) ? t.First()
            : response.Headers.TryGetValues(name, out var h) ? h.First()
            : null;

        var trailersOnly = response.Headers.Contains("grpc-status");
        var status = Header("grpc-status");
        var message = Header("grpc-message") ?? "";
        var messages = new List<byte[]>();
        var at = 0;
        while (at < body.Length)
        {
            Assert.True(body.Length - at >= 5, "response ends inside a message prefix");
            Assert.Equal(0, body[at]);
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(at + 1));
            Assert.True(body.Length - at - 5 >= length, "response ends inside a message");
            messages.Add(body.AsSpan(at + 5, length).ToArray());
            at += 5 + length;
        }

        return new GrpcReply(
            response.StatusCode,
            response.Content.Headers.ContentType?.MediaType,
            status is null ? null : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture),
            Uri.UnescapeDataString(message),
            trailersOnly,
            messages);
    }

    /// <summary>Asserts the call ended with <paramref name="code"/> (gRPC status number) and returns the reply.</summary>
    public GrpcReply Expect(int code)
    {
        Assert.True(Status == code, $"expected grpc-status {code}, got {Status?.ToString() ?? "none"} (http {(int)HttpStatus}): {Message}");
        return this;
    }
}
