using System.Net;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Grpc;

/// <summary>A test node with its gRPC listener on 127.0.0.1 port 0, and a client for it.</summary>
public sealed class GrpcNode : IAsyncDisposable
{
    private GrpcNode(TestNode node)
    {
        Node = node;
        Client = new GrpcTestClient(node.Node.GrpcEndPoint!);
    }

    public TestNode Node { get; }

    public GrpcTestClient Client { get; }

    public IPEndPoint EndPoint => Node.Node.GrpcEndPoint!;

    public static async Task<GrpcNode> StartAsync() =>
        new(await TestNode.StartAsync(configure: o => o.Grpc = new IPEndPoint(IPAddress.Loopback, 0)));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
    }
}
