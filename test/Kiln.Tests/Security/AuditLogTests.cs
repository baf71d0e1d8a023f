using System.Net;
using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Tests.Grpc;
using Kiln.Tests.Protocol;

namespace Kiln.Tests.Security;

/// <summary>The audit log: every job and every refusal, with identity, address and reason.</summary>
public sealed class AuditLogTests
{
    [Fact]
    public async Task Jobs_and_refusals_on_every_listener_are_logged_with_identity_address_and_reason()
    {
        await using var node = await SecuredNode.StartAsync();
        using (var client = new KilnProtocolClient(new KilnClientOptions { Token = node.Execute, ClientName = "ci-runner" }))
        {
            Assert.Equal(RemoteStatus.Completed, (await client.CompileAsync(ProtocolTestKit.Host(node.Node), ProtocolTestKit.SmallRequest(), CancellationToken.None)).Status);
            Assert.Equal(RemoteStatus.Refused, (await client.CompileAsync(ProtocolTestKit.Host(node.Node), ProtocolTestKit.SmallRequest(arguments: ["-fplugin=evil.so"]), CancellationToken.None)).Status);
        }

        using (var client = new KilnProtocolClient(new KilnClientOptions { Token = "kiln_000000000000_guess" }))
        {
            Assert.Equal(RemoteStatus.Failed, (await client.CompileAsync(ProtocolTestKit.Host(node.Node), ProtocolTestKit.SmallRequest(), CancellationToken.None)).Status);
        }

        using (var http = node.HttpClient("Bearer " + node.Read))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await http.PutAsync("/ccache/0123456789abcdef0123456789abcdef01234567", new ByteArrayContent([1]))).StatusCode);
        }

        using (var grpc = new GrpcTestClient(node.Node.Node.GrpcEndPoint!))
        {
            (await grpc.CallAsync(Kiln.Server.Grpc.CapabilitiesService.GetCapabilitiesPath, new Build.Bazel.Remote.Execution.V2.GetCapabilitiesRequest())).Expect(16);
        }

        var lines = node.Audit();
        string? S(System.Text.Json.JsonElement e, string name) => e.GetProperty(name).GetString();
        Assert.All(lines, e => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", S(e, "time")));
        Assert.All(lines, e => Assert.StartsWith("127.0.0.1:", S(e, "address"), StringComparison.Ordinal));

        var done = Assert.Single(lines, e => S(e, "outcome") == "done");
        Assert.Equal(("kiln", "job", "builder", "execute"), (S(done, "listener"), S(done, "action"), S(done, "name"), S(done, "role")));
        Assert.Contains("gcc answer.c", S(done, "reason"), StringComparison.Ordinal);
        Assert.Contains("ci-runner@127.0.0.1", S(done, "reason"), StringComparison.Ordinal);
        Assert.Contains("exit 0", S(done, "reason"), StringComparison.Ordinal);

        var plugin = Assert.Single(lines, e => S(e, "action") == "job" && S(e, "outcome") == "refused");
        Assert.Equal("builder", S(plugin, "name"));
        Assert.Contains("-fplugin", S(plugin, "reason"), StringComparison.Ordinal);

        var hello = Assert.Single(lines, e => S(e, "action") == "hello");
        Assert.Equal(("refused", null), (S(hello, "outcome"), S(hello, "identity")));
        Assert.Contains("token is not accepted", S(hello, "reason"), StringComparison.Ordinal);
        Assert.DoesNotContain("guess", File.ReadAllText(Kiln.Server.Security.AuditLog.FilePath(node.Node.DataDirectory)), StringComparison.Ordinal);

        var http403 = Assert.Single(lines, e => S(e, "listener") == "http");
        Assert.Equal(("PUT /ccache/0123456789abcdef0123456789abcdef01234567", "reader", "read"), (S(http403, "action"), S(http403, "name"), S(http403, "role")));
        Assert.Contains("needs write", S(http403, "reason"), StringComparison.Ordinal);

        var grpc401 = Assert.Single(lines, e => S(e, "listener") == "grpc");
        Assert.Contains("no credentials", S(grpc401, "reason"), StringComparison.Ordinal);
        Assert.Equal(5, lines.Count);
    }

    [Fact]
    public async Task Audit_file_is_private_to_the_node_user()
    {
        await using var node = await SecuredNode.StartAsync();
        using var http = node.HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/stats")).StatusCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Kiln.Server.Security.AuditLog.FilePath(node.Node.DataDirectory)));
    }
}
