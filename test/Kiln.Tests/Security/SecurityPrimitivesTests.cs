using Kiln.Core.Security;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Security;

public sealed class SecurityPrimitivesTests
{
    [Fact]
    public void TokensAuthenticateWithTheirRoleAndOnlyHashesAreKept()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("tokens");
        var store = new TokenStore(path);
        var reader = store.Create(Role.Read, "ci-reader");
        var admin = store.Create(Role.Admin, "ops");

        var id = store.Authenticate(reader);
        Assert.Equal((Role.Read, "ci-reader"), (id!.Role, id.Name));
        Assert.False(id.Has(Role.Write));
        Assert.True(new TokenStore(path).Authenticate(admin)!.Has(Role.Execute));

        var file = File.ReadAllText(path);
        Assert.DoesNotContain(reader.Split('_')[2], file);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("kiln_")]
    [InlineData("kiln_abc")]
    [InlineData("Bearer kiln_x_y")]
    public void MalformedTokensAreRefused(string? token)
    {
        using var dir = new TempDirectory();
        Assert.Null(new TokenStore(dir.Combine("tokens")).Authenticate(token));
    }

    [Fact]
    public void WrongSecretAndRevokedTokensAreRefused()
    {
        using var dir = new TempDirectory();
        var store = new TokenStore(dir.Combine("tokens"));
        var token = store.Create(Role.Write, "dev");
        var tampered = token[..^1] + (token[^1] == 'A' ? 'B' : 'A');
        Assert.Null(store.Authenticate(tampered));

        Assert.True(store.Revoke(token.Split('_')[1]));
        Assert.Null(store.Authenticate(token));
        Assert.False(store.Revoke("nope"));
    }

    [Fact]
    public void CertificateIsMadeOnceAndKeepsItsFingerprint()
    {
        using var dir = new TempDirectory();
        using var first = NodeCertificate.LoadOrCreate(dir.Path, "node-a", out var created);
        Assert.True(created);
        Assert.True(first.HasPrivateKey);
        using var second = NodeCertificate.LoadOrCreate(dir.Path, "node-a", out created);
        Assert.False(created);
        Assert.Equal(NodeCertificate.Fingerprint(first), NodeCertificate.Fingerprint(second));
        Assert.Equal(64, NodeCertificate.Fingerprint(first).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(dir.Combine("tls", "node.pfx")));
    }
}
