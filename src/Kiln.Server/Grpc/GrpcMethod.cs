namespace Kiln.Server.Grpc;

/// <summary>Endpoint metadata marking a route as a gRPC method (served on the gRPC listener only).</summary>
internal sealed record GrpcMethod(string Path);
