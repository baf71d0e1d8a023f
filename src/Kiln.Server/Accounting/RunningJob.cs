namespace Kiln.Server.Accounting;

/// <summary>A job running (or queued) now, as <c>/api/running</c> and the dashboard show it.</summary>
public sealed record RunningJob(long Id, string Identity, string Address, string FrontEnd, string Compiler, string Source, long StartedMs, bool Queued);
