using Kiln.Core.Trust;

namespace Kiln.Server.Trust;

/// <summary>
/// Who asks for a stored result: the identity the front end authenticated (or the peer's address
/// where the protocol has none), and the trust policy the consumer stated, if its protocol can carry
/// one. Front ends without a way to state a policy pass null and the node's policy for that
/// identity applies.
/// </summary>
public sealed record ResultConsumer(string FrontEnd, string Identity, string Address, TrustPolicy? Policy);
