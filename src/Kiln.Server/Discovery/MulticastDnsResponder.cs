using System.Net;
using System.Net.Sockets;
using Kiln.Core.Discovery;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Discovery;

/// <summary>
/// Announces service instances on one interface by multicast DNS (RFC 6762) and answers queries
/// for them. It probes its unique names three times 250 ms apart (§8.1) and takes the next free
/// name on a conflict ("node (2)", host "node-2"), announces at 0, 1 and 3 s (§8.3), answers
/// multicast queries by multicast and one-shot queries from other ports by unicast (§6.7), leaves
/// out answers the querier already knows (§7.1), and says goodbye with TTL 0 when stopped (§10.1).
/// </summary>
public sealed partial class MulticastDnsResponder
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan[] AnnounceDelays = [TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];
    private const int MaxRenames = 16;

    private readonly IPAddress _address;
    private readonly string _hostLabel;
    private readonly Func<IReadOnlyList<ServiceRegistration>> _registrations;
    private readonly ILogger _logger;
    private volatile int _suffix = 1;
    private volatile bool _conflict;
    private volatile bool _answering;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// A responder on the interface holding <paramref name="address"/>, for host <c>hostLabel.local</c>.
    /// <paramref name="registrations"/> is read at every answer, so TXT values such as free slots are current.
    /// </summary>
    public MulticastDnsResponder(IPAddress address, string hostLabel, Func<IReadOnlyList<ServiceRegistration>> registrations, ILogger logger)
    {
        _address = address;
        _hostLabel = hostLabel;
        _registrations = registrations;
        _logger = logger;
    }

    /// <summary>The host name in use (after any rename), with <c>.local</c>.</summary>
    public string HostName => (_suffix > 1 ? $"{_hostLabel}-{_suffix}" : _hostLabel) + ".local";

    /// <summary>True once probing is over and the responder answers queries.</summary>
    public bool Answering => _answering;

    /// <summary>Completes when the responder answers queries, or has given up (no socket, or stopped before).</summary>
    public Task Ready => _ready.Task;

    /// <summary>The records announced now: shared PTRs, the instances' SRV and TXT, and the host's A record.</summary>
    public IReadOnlyList<DnsRecord> Records()
    {
        var records = new List<DnsRecord>();
        foreach (var registration in CurrentRegistrations())
        {
            records.AddRange(registration.PointerRecords());
            records.AddRange(registration.InstanceRecords());
        }

        records.Add(new DnsRecord(HostName, DnsRecordType.A, ServiceRegistration.HostRecordTtl, new AddressData(_address), CacheFlush: true));
        return records;
    }

    /// <summary>Probes, announces and answers until <paramref name="cancellationToken"/> is cancelled, then says goodbye.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Socket socket;
        try
        {
            socket = MulticastDns.OpenResponderSocket(_address);
        }
        catch (SocketException e)
        {
            LogSocketFailed(_address, e.Message);
            _ready.TrySetResult();
            return;
        }

        using (socket)
        {
            using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var receive = ReceiveLoopAsync(socket, receiving.Token);
            try
            {
                await ProbeAsync(socket, cancellationToken).ConfigureAwait(false);
                _answering = true;
                _ready.TrySetResult();
                LogAnnouncing(_address, HostName);
                foreach (var delay in AnnounceDelays)
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    Send(socket, Announcement(Records()), MulticastDns.GroupEndPoint);
                }

                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            _ready.TrySetResult();
            if (_answering)
            {
                Send(socket, Announcement([.. Records().Select(r => r with { Ttl = 0 })]), MulticastDns.GroupEndPoint);
            }

            await receiving.CancelAsync().ConfigureAwait(false);
            await receive.ConfigureAwait(false);
        }
    }

    private IReadOnlyList<ServiceRegistration> CurrentRegistrations()
    {
        var suffix = _suffix;
        return [.. _registrations().Select(r => r with { Instance = suffix == 1 ? r.Instance : $"{r.Instance} ({suffix})", HostName = HostName })];
    }

    private async Task ProbeAsync(Socket socket, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxRenames; attempt++)
        {
            _conflict = false;
            for (var i = 0; i < 3 && !_conflict; i++)
            {
                var records = Records();
                var unique = records.Where(r => r.CacheFlush).ToList();
                var probe = new DnsMessage
                {
                    Questions = [.. unique.Select(r => r.Name).Distinct(StringComparer.OrdinalIgnoreCase).Select(n => new DnsQuestion(n, DnsRecordType.Any, UnicastResponse: true))],
                    Authorities = [.. unique.Select(r => r with { CacheFlush = false })],
                };
                Send(socket, probe, MulticastDns.GroupEndPoint);
                await Task.Delay(ProbeInterval, cancellationToken).ConfigureAwait(false);
            }

            if (!_conflict)
            {
                return;
            }

            _suffix++;
            LogRenamed(_address, HostName);
        }
    }

    private async Task ReceiveLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[DnsMessageWriter.MaxMessageLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                // ICMP errors from earlier unicast replies surface here; the socket keeps working.
                LogReceiveFailed(e.SocketErrorCode);
                continue;
            }

            if (!DnsMessageReader.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out var message, out var error))
            {
                LogMalformed((IPEndPoint)received.RemoteEndPoint, error);
                continue;
            }

            var from = (IPEndPoint)received.RemoteEndPoint;
            if (message.IsResponse)
            {
                CheckConflict(message);
            }
            else if (_answering)
            {
                await AnswerAsync(socket, message, from, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A response that holds one of our unique names with other data is a conflict (§9).</summary>
    private void CheckConflict(DnsMessage message)
    {
        var ours = Records().Where(r => r.CacheFlush).ToList();
        foreach (var theirs in message.Answers.Concat(message.Additionals))
        {
            if (theirs.Ttl == 0)
            {
                continue;
            }

            var sameName = ours.Where(o => o.Type == theirs.Type && DnsName.Equal(o.Name, theirs.Name)).ToList();
            if (sameName.Count > 0 && !sameName.Any(o => o.Data == theirs.Data))
            {
                if (!_answering)
                {
                    _conflict = true;
                }
                else
                {
                    LogConflictHeard(theirs.Name, theirs.Type);
                }
            }
        }
    }

    private async Task AnswerAsync(Socket socket, DnsMessage query, IPEndPoint from, CancellationToken cancellationToken)
    {
        var records = Records();
        var answers = new List<DnsRecord>();
        foreach (var question in query.Questions)
        {
            foreach (var record in records)
            {
                if ((question.Type == DnsRecordType.Any || question.Type == record.Type) && DnsName.Equal(question.Name, record.Name) && !answers.Contains(record))
                {
                    answers.Add(record);
                }
            }
        }

        // Known-answer suppression: the querier already holds these with at least half their TTL.
        answers.RemoveAll(a => query.Answers.Any(k => k.Type == a.Type && k.Data == a.Data && k.Ttl >= a.Ttl / 2 && DnsName.Equal(k.Name, a.Name)));
        if (answers.Count == 0)
        {
            return;
        }

        var additionals = new List<DnsRecord>();
        foreach (var answer in answers)
        {
            var related = answer.Data switch
            {
                PtrData ptr => records.Where(r => DnsName.Equal(r.Name, ptr.Target) && r.Type is DnsRecordType.Srv or DnsRecordType.Txt),
                _ => [],
            };
            additionals.AddRange(related);
        }

        foreach (var srv in answers.Concat(additionals).Select(r => r.Data).OfType<SrvData>().ToList())
        {
            additionals.AddRange(records.Where(r => r.Type == DnsRecordType.A && DnsName.Equal(r.Name, srv.Target)));
        }

        additionals = [.. additionals.Distinct().Where(a => !answers.Contains(a))];
        if (from.Port != MulticastDns.Port)
        {
            // One-shot ("legacy unicast") query: answer the sender directly, echo its id and
            // questions, no cache-flush bits, TTLs of at most 10 s (§6.7).
            static DnsRecord Legacy(DnsRecord r) => r with { CacheFlush = false, Ttl = Math.Min(r.Ttl, 10u) };
            Send(socket, new DnsMessage
            {
                Id = query.Id,
                Flags = DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag,
                Questions = query.Questions,
                Answers = [.. answers.Select(Legacy)],
                Additionals = [.. additionals.Select(Legacy)],
            }, from);
            return;
        }

        if (query.Questions.All(q => q.UnicastResponse))
        {
            Send(socket, Announcement(answers, additionals), from);
            return;
        }

        // Shared answers (PTR) may come from many responders at once: spread them over 20-120 ms (§6).
        if (answers.Any(a => !a.CacheFlush))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 121)), cancellationToken).ConfigureAwait(false);
        }

        Send(socket, Announcement(answers, additionals), MulticastDns.GroupEndPoint);
    }

    private static DnsMessage Announcement(IReadOnlyList<DnsRecord> answers, IReadOnlyList<DnsRecord>? additionals = null) => new()
    {
        Flags = DnsMessage.ResponseFlag | DnsMessage.AuthoritativeFlag,
        Answers = answers,
        Additionals = additionals ?? [],
    };

    private void Send(Socket socket, DnsMessage message, IPEndPoint to)
    {
        var bytes = DnsMessageWriter.Encode(message);
        if (bytes is null)
        {
            LogTooLarge(message.Answers.Count + message.Additionals.Count);
            return;
        }

        try
        {
            socket.SendTo(bytes, to);
        }
        catch (SocketException e)
        {
            LogSendFailed(to, e.SocketErrorCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "zeroconf: cannot open UDP 5353 on {Address}: {Reason}")]
    private partial void LogSocketFailed(IPAddress address, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "zeroconf: announcing on {Address} as {HostName}")]
    private partial void LogAnnouncing(IPAddress address, string hostName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "zeroconf: name taken on the network; {Address} now probes as {HostName}")]
    private partial void LogRenamed(IPAddress address, string hostName);

    [LoggerMessage(Level = LogLevel.Warning, Message = "zeroconf: another responder claims {Name} ({Type}) with other data")]
    private partial void LogConflictHeard(string name, DnsRecordType type);

    [LoggerMessage(Level = LogLevel.Debug, Message = "zeroconf: malformed packet from {From}: {Error}")]
    private partial void LogMalformed(IPEndPoint from, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "zeroconf: receive failed: {Error}")]
    private partial void LogReceiveFailed(SocketError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "zeroconf: send to {To} failed: {Error}")]
    private partial void LogSendFailed(IPEndPoint to, SocketError error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "zeroconf: a response of {Count} records does not fit in one packet")]
    private partial void LogTooLarge(int count);
}
