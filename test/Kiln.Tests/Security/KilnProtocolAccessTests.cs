using Kiln.Core.Protocol;
using Kiln.Core.Remote;
using Kiln.Core.Security;
using Kiln.Tests.Protocol;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

/// <summary>The Kiln protocol listener's rows of docs/security.md: who may compile, over TLS.</summary>
public sealed class KilnProtocolAccessTests
{
    private static async Task<RemoteCompileReply> CompileAsync(TestNode node, string token = "", System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        using var client = new KilnProtocolClient(new KilnClientOptions { Token = token, ClientCertificate = certificate });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await client.CompileAsync(ProtocolTestKit.Host(node), ProtocolTestKit.SmallRequest(), cts.Token);
    }

    [Fact]
    public async Task Kiln_no_credentials_is_refused_at_hello()
    {
        await using var node = await SecuredNode.StartAsync();
        var reply = await CompileAsync(node.Node);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("Unauthorized", reply.Message, StringComparison.Ordinal);
        Assert.Contains("no credentials", reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Node.Counters.KilnJobs);
    }

    [Fact]
    public async Task Kiln_unknown_token_is_refused_at_hello()
    {
        await using var node = await SecuredNode.StartAsync();
        var forged = node.Execute[..^4] + "AAAA";
        var reply = await CompileAsync(node.Node, forged);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("token is not accepted", reply.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(forged, reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Node.Counters.KilnJobs);
    }

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    public async Task Kiln_wrong_role_is_refused_for_the_job(string role)
    {
        await using var node = await SecuredNode.StartAsync();
        var reply = await CompileAsync(node.Node, role == "read" ? node.Read : node.Write);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("Forbidden", reply.Message, StringComparison.Ordinal);
        Assert.Contains($"has role {role}; compiling on this node needs execute", reply.Message, StringComparison.Ordinal);
        Assert.Equal(0, node.Node.Node.Counters.CompilesOk);
    }

    [Theory]
    [InlineData("execute")]
    [InlineData("admin")]
    public async Task Kiln_right_role_compiles(string role)
    {
        await using var node = await SecuredNode.StartAsync();
        var reply = await CompileAsync(node.Node, role == "execute" ? node.Execute : node.Admin);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.Equal(1, node.Node.Node.Counters.CompilesOk);
    }

    [Fact]
    public async Task Kiln_granted_client_certificate_compiles_and_an_ungranted_one_is_refused()
    {
        await using var node = await SecuredNode.StartAsync();
        using var dir = new TempDirectory("kiln-client-cert");
        using var certificate = NodeCertificate.LoadOrCreateAt(dir.Combine("client.pfx"), "ci-client", out _);

        var refused = await CompileAsync(node.Node, certificate: certificate);
        Assert.Equal(RemoteStatus.Failed, refused.Status);
        Assert.Contains($"client certificate {NodeCertificate.Fingerprint(certificate)} has no role", refused.Message, StringComparison.Ordinal);

        node.Tokens.AddCertificate(NodeCertificate.Fingerprint(certificate), Role.Execute, "ci-machine");
        var reply = await CompileAsync(node.Node, certificate: certificate);
        Assert.True(reply.Status == RemoteStatus.Completed, $"{reply.Status}: {reply.Message}");
        var job = node.Audit().Last(e => e.GetProperty("action").GetString() == "job");
        Assert.Equal("ci-machine", job.GetProperty("name").GetString());
        Assert.Equal("execute", job.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Kiln_revoked_token_is_refused_on_the_next_connection()
    {
        await using var node = await SecuredNode.StartAsync();
        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(node.Node, node.Execute)).Status);
        var id = node.Execute.Split('_')[1];
        Assert.True(node.Tokens.Revoke(id));
        var reply = await CompileAsync(node.Node, node.Execute);
        Assert.Equal(RemoteStatus.Failed, reply.Status);
        Assert.Contains("token is not accepted", reply.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fresh_node_trusts_loopback_until_the_first_token()
    {
        await using var node = await TestNode.StartAsync();
        var before = await CompileAsync(node);
        Assert.True(before.Status == RemoteStatus.Completed, $"{before.Status}: {before.Message}");
        Assert.Equal("loopback-before-first-token", SecuredNode.AuditLines(node.DataDirectory).Single(e => e.GetProperty("action").GetString() == "job").GetProperty("name").GetString());

        var tokens = new TokenStore(Kiln.Server.Security.NodeAuthenticator.TokenFile(node.DataDirectory));
        var token = tokens.Create(Role.Execute, "me");
        var without = await CompileAsync(node);
        Assert.Equal(RemoteStatus.Failed, without.Status);
        Assert.Contains("no credentials", without.Message, StringComparison.Ordinal);
        Assert.Equal(RemoteStatus.Completed, (await CompileAsync(node, token)).Status);
    }

    [Fact]
    public void Fresh_node_refuses_addresses_other_than_loopback()
    {
        using var dir = new TempDirectory("kiln-auth");
        var authenticator = new Kiln.Server.Security.NodeAuthenticator(new TokenStore(dir.Combine("tokens")));
        Assert.Equal(Role.Admin, authenticator.Authenticate(null, null, System.Net.IPAddress.Loopback).Identity!.Role);
        Assert.Equal(Role.Admin, authenticator.Authenticate(null, null, System.Net.IPAddress.IPv6Loopback).Identity!.Role);
        var remote = authenticator.Authenticate(null, null, System.Net.IPAddress.Parse("192.168.1.20"));
        Assert.Null(remote.Identity);
        Assert.Contains("serves only loopback clients until its first token exists", remote.Refusal, StringComparison.Ordinal);
        Assert.Null(authenticator.Authenticate(null, null, null).Identity);
    }
}
