using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Kiln.Core.Discovery;

/// <summary>
/// Finds DNS-SD services by one-shot multicast DNS queries (RFC 6762 §5.1): the query goes from an
/// ephemeral port, so responders (avahi-daemon, Kiln nodes) answer straight back to it. Answers are
/// collected for a bounded time; instances whose SRV, TXT or address did not arrive are asked for
/// once more half way through.
/// </summary>
public static class ServiceBrowser
{
    /// <summary>How long a browse listens by default; avahi-browse -t waits about 1 s for its first results.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromMilliseconds(800);

    /// <summary>
    /// Browses <paramref name="serviceTypes"/> (full names such as <c>_kiln._tcp.local</c>, or subtypes)
    /// on each of <paramref name="interfaceAddresses"/> for <paramref name="duration"/>.
    /// Returns resolved instances, sorted by type and name; one whose SRV never arrived is left out.
    /// </summary>
    public static async Task<IReadOnlyList<DiscoveredService>> BrowseAsync(
        IReadOnlyList<string> serviceTypes, IReadOnlyList<IPAddress> interfaceAddresses, TimeSpan duration, CancellationToken cancellationToken)
    {
        using var socket = MulticastDns.OpenQuerySocket();
        var records = new List<DnsRecord>();
        var query = new DnsMessage
        {
            Id = (ushort)Random.Shared.Next(1, ushort.MaxValue),
            Questions = [.. serviceTypes.Select(t => new DnsQuestion(t, DnsRecordType.Ptr))],
        };
        Send(socket, query, interfaceAddresses);

        var clock = Stopwatch.StartNew();
        var followedUp = false;
        var buffer = new byte[DnsMessageWriter.MaxMessageLength];
        while (clock.Elapsed < duration)
        {
            if (!followedUp && clock.Elapsed >= duration / 2)
            {
                followedUp = true;
                var missing = MissingQuestions(serviceTypes, records);
                if (missing.Count > 0)
                {
                    Send(socket, query with { Questions = missing }, interfaceAddresses);
                }
            }

            var wait = followedUp ? duration - clock.Elapsed : duration / 2 - clock.Elapsed;
            if (wait <= TimeSpan.Zero)
            {
                continue;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(wait);
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                continue;
            }

            if (DnsMessageReader.TryParse(buffer.AsSpan(0, received.ReceivedBytes), out var message, out _) && message.IsResponse)
            {
                records.AddRange(message.AllRecords());
            }
        }

        return Resolve(serviceTypes, records);
    }

    /// <summary>Builds the instances of <paramref name="serviceTypes"/> from the records heard, goodbyes (TTL 0) removed.</summary>
    public static IReadOnlyList<DiscoveredService> Resolve(IReadOnlyList<string> serviceTypes, IReadOnlyList<DnsRecord> records)
    {
        var live = Live(records);
        var result = new Dictionary<string, DiscoveredService>(StringComparer.Ordinal);
        foreach (var type in serviceTypes)
        {
            foreach (var ptr in Find(live, type, DnsRecordType.Ptr))
            {
                var instanceName = ((PtrData)ptr.Data).Target;
                var key = DnsName.Key(instanceName);
                if (result.ContainsKey(key))
                {
                    continue;
                }

                var srv = Find(live, instanceName, DnsRecordType.Srv).Select(r => (SrvData)r.Data).FirstOrDefault();
                if (srv is null)
                {
                    continue;
                }

                var txt = Find(live, instanceName, DnsRecordType.Txt).Select(r => (TxtData)r.Data).FirstOrDefault();
                var addresses = Find(live, srv.Target, DnsRecordType.A).Concat(Find(live, srv.Target, DnsRecordType.Aaaa))
                    .Select(r => ((AddressData)r.Data).Address).Distinct().ToList();
                var baseType = ServiceTypes.BaseOf(type);
                result[key] = new DiscoveredService(
                    DnsName.FirstLabel(instanceName),
                    baseType.EndsWith(".local", StringComparison.OrdinalIgnoreCase) ? baseType[..^".local".Length] : baseType,
                    srv.Target,
                    srv.Port,
                    addresses,
                    txt?.Attributes() ?? new Dictionary<string, string>());
            }
        }

        return [.. result.Values.OrderBy(s => s.ServiceType, StringComparer.Ordinal).ThenBy(s => s.Instance, StringComparer.Ordinal)];
    }

    private static void Send(Socket socket, DnsMessage query, IReadOnlyList<IPAddress> interfaceAddresses)
    {
        var bytes = DnsMessageWriter.Encode(query);
        if (bytes is null)
        {
            return;
        }

        foreach (var address in interfaceAddresses)
        {
            try
            {
                MulticastDns.SetSendInterface(socket, address);
                socket.SendTo(bytes, MulticastDns.GroupEndPoint);
            }
            catch (SocketException)
            {
                // An interface that went away or cannot multicast: the others still get the query.
            }
        }
    }

    private static List<DnsQuestion> MissingQuestions(IReadOnlyList<string> serviceTypes, List<DnsRecord> records)
    {
        var live = Live(records);
        var questions = new List<DnsQuestion>();
        foreach (var type in serviceTypes)
        {
            foreach (var ptr in Find(live, type, DnsRecordType.Ptr))
            {
                var instance = ((PtrData)ptr.Data).Target;
                var srv = Find(live, instance, DnsRecordType.Srv).Select(r => (SrvData)r.Data).FirstOrDefault();
                if (srv is null)
                {
                    questions.Add(new DnsQuestion(instance, DnsRecordType.Srv));
                }
                else if (!Find(live, srv.Target, DnsRecordType.A).Any())
                {
                    questions.Add(new DnsQuestion(srv.Target, DnsRecordType.A));
                }

                if (!Find(live, instance, DnsRecordType.Txt).Any())
                {
                    questions.Add(new DnsQuestion(instance, DnsRecordType.Txt));
                }
            }
        }

        return [.. questions.DistinctBy(q => (DnsName.Key(q.Name), q.Type))];
    }

    /// <summary>The records still valid: a later record with TTL 0 (a goodbye) removes the same name, type and data.</summary>
    private static List<DnsRecord> Live(IReadOnlyList<DnsRecord> records)
    {
        var live = new List<DnsRecord>();
        foreach (var r in records)
        {
            live.RemoveAll(l => l.Type == r.Type && l.Data == r.Data && DnsName.Equal(l.Name, r.Name));
            if (r.Ttl > 0)
            {
                live.Add(r);
            }
        }

        return live;
    }

    private static IEnumerable<DnsRecord> Find(List<DnsRecord> records, string name, DnsRecordType type) =>
        records.Where(r => r.Type == type && DnsName.Equal(r.Name, name));
}
