using Kiln.Core.Security;

namespace Kiln.Server.Security;

/// <summary>One line of the audit log: a job run, or a request or connection refused.</summary>
/// <param name="Listener">Where it arrived: kiln, http, grpc, distcc, stdio.</param>
/// <param name="Action">What was asked: hello, job, tls, or the HTTP method and path.</param>
/// <param name="Outcome">done (a job ran), or refused.</param>
/// <param name="Identity">Who asked, when known.</param>
/// <param name="Address">The peer's address and port.</param>
/// <param name="Reason">Why it was refused, or what the job was (compiler, source, exit status).</param>
public sealed record AuditEvent(string Listener, string Action, string Outcome, Identity? Identity, string Address, string Reason)
{
    /// <summary>The outcome of a job that ran.</summary>
    public const string Done = "done";

    /// <summary>The outcome of anything refused.</summary>
    public const string Refused = "refused";
}
