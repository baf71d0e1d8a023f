namespace Kiln.Server.Scheduling;

/// <summary>
/// One user's use of a node's slots: jobs granted a slot, and how many of those were granted while
/// another user was waiting too (the grants where fairness decided who went first).
/// </summary>
public sealed record UserShare(string User, long Jobs, long ContendedJobs);
