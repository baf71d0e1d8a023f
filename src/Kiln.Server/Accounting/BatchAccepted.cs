namespace Kiln.Server.Accounting;

/// <summary>The collector's answer to a batch: how many records it held and how many were new.</summary>
public sealed record BatchAccepted(int Received, int Added);
