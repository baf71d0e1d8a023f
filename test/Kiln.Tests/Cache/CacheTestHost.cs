using System.Net;
using Kiln.Core.Cas;
using Kiln.Server.Cache;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.Tests.Cache;

/// <summary>
/// Kestrel on 127.0.0.1 port 0 with only the cache front ends mapped, over a store the test
/// controls (to inject a full disk or a size cap, which a real store cannot be made to do on cue).
/// </summary>
internal sealed class CacheTestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private CacheTestHost(WebApplication app, Uri baseAddress, MemoryContentStore store, MemoryActionCache actions)
    {
        _app = app;
        BaseAddress = baseAddress;
        Store = store;
        Actions = actions;
    }

    public Uri BaseAddress { get; }

    public MemoryContentStore Store { get; }

    public MemoryActionCache Actions { get; }

    public required CacheCounters Counters { get; init; }

    public static async Task<CacheTestHost> StartAsync()
    {
        var store = new MemoryContentStore();
        var actions = new MemoryActionCache(store);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSingleton<IContentStore>(store);
        builder.Services.AddSingleton<IActionCache>(actions);
        builder.Services.AddSingleton<CacheCounters>();
        var app = builder.Build();
        CcacheEndpoints.Map(app);
        BazelHttpEndpoints.Map(app);
        CacheStatsEndpoint.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new CacheTestHost(app, new Uri(address), store, actions) { Counters = app.Services.GetRequiredService<CacheCounters>() };
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }
}
