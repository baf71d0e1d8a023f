using Kiln.Core.Security;
using Kiln.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Kiln.Server.Security;

/// <summary>Registers the node's identity and audit services.</summary>
internal static class SecurityServices
{
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        services.AddSingleton(_ => new NodeAuthenticator(new TokenStore(NodeAuthenticator.TokenFile(options.DataDirectory))));
        services.AddSingleton<AuditLog>();
        services.AddSingleton<KilnTransportSecurity>();
    }
}
