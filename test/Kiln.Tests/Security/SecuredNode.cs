using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kiln.Core.Security;
using Kiln.Server.Security;
using Kiln.Tests.TestKit;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Tests.Security;

/// <summary>
/// A test node that has tokens (so no peer is trusted for being on loopback), one of each role,
/// with its HTTP and gRPC listeners on; and helpers to read its audit log.
/// </summary>
public sealed class SecuredNode : IAsyncDisposable
{
    private SecuredNode(TestNode node)
    {
        Node = node;
        var tokens = node.Node.Services.GetRequiredService<NodeAuthenticator>().Tokens;
        Read = tokens.Create(Role.Read, "reader");
        Write = tokens.Create(Role.Write, "writer");
        Execute = tokens.Create(Role.Execute, "builder");
        Admin = tokens.Create(Role.Admin, "operator");
    }

    public TestNode Node { get; }

    public string Read { get; }

    public string Write { get; }

    public string Execute { get; }

    public string Admin { get; }

    public TokenStore Tokens => Node.Node.Services.GetRequiredService<NodeAuthenticator>().Tokens;

    public Uri Http => new($"http://127.0.0.1:{Node.Node.HttpEndPoint!.Port}");

    public static async Task<SecuredNode> StartAsync(bool distcc = false, bool plaintextLoopback = false) =>
        new(await TestNode.StartAsync(distcc: distcc, plaintextLoopback: plaintextLoopback,
            configure: o => o.Grpc = new IPEndPoint(IPAddress.Loopback, 0)));

    /// <summary>An HTTP client for the node's HTTP listener, with <paramref name="authorization"/> (a whole header value) or none.</summary>
    public HttpClient HttpClient(string? authorization = null)
    {
        var client = new HttpClient { BaseAddress = Http, Timeout = TimeSpan.FromSeconds(30) };
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.Authorization = AuthenticationHeaderValue.Parse(authorization);
        }

        return client;
    }

    /// <summary>HTTP basic credentials as Bazel and ccache send them from <c>http://user:TOKEN@host/</c>.</summary>
    public static string Basic(string token) => "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("ci:" + token));

    /// <summary>The audit log's lines, parsed.</summary>
    public IReadOnlyList<JsonElement> Audit() => AuditLines(Node.DataDirectory);

    public static IReadOnlyList<JsonElement> AuditLines(string dataDirectory)
    {
        var path = AuditLog.FilePath(dataDirectory);
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var lines = new List<JsonElement>();
        while (reader.ReadLine() is { } line)
        {
            lines.Add(JsonDocument.Parse(line).RootElement.Clone());
        }

        return lines;
    }

    public ValueTask DisposeAsync() => Node.DisposeAsync();
}
