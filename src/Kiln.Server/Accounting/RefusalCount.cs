namespace Kiln.Server.Accounting;

/// <summary>How many jobs were refused for one reason.</summary>
public sealed record RefusalCount(string Reason, long Count);
