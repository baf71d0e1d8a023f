using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Kiln.Core.Compile;
using Kiln.Core.Distcc;
using Kiln.Core.Hashing;
using Kiln.Server.Compile;
using Kiln.Server.CompileCache;
using Kiln.Server.Hosting;
using Kiln.Server.Trust;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Distcc;

/// <summary>
/// Serves stock distcc clients on the node's distcc listener: protocol 1 (plain), 2 (<c>,lzo</c>) and
/// 3 (pump, <c>,cpp,lzo</c>), one job per connection. Peers outside the allow-list are closed at once.
/// A malformed request (wrong token, garbage, a length over the cap, a stall, a truncated stream) closes
/// the connection; a well-formed job the node will not run (compiler, argument, escaping file) gets a
/// full reply with a failing status and the reason in its stderr, so the user reads why.
/// </summary>
public sealed partial class DistccConnectionHandler : ConnectionHandler
{
    /// <summary>The exit code reported for a refused job: distcc's own EXIT_BAD_ARGUMENTS.</summary>
    public const int RefusedExitCode = 101;

    /// <summary>The exit code reported when the node failed to run a job: distcc's EXIT_DISTCC_FAILED.</summary>
    public const int NodeFailureExitCode = 100;

    private readonly KilnNodeOptions _options;
    private readonly CompileExecutor _executor;
    private readonly ILogger<DistccConnectionHandler> _logger;
    private readonly CompileResultCache? _cache;
    private readonly Security.AuditLog? _audit;

    /// <summary>The identity of every distcc client: the protocol cannot authenticate, so the network allow-list stands in for one.</summary>
    private static readonly Kiln.Core.Security.Identity s_allowList = new("allow-list", "distcc-network-allow-list", Kiln.Core.Security.Role.Execute);

    /// <summary>
    /// Creates the handler. With <paramref name="cache"/>, preprocessed jobs (protocols 1 and 2) are a
    /// transparent cache: the node keys each job itself and answers a hit without compiling;
    /// <paramref name="audit"/> records every job and refusal.
    /// </summary>
    public DistccConnectionHandler(KilnNodeOptions options, CompileExecutor executor, ILogger<DistccConnectionHandler> logger,
        CompileResultCache? cache = null, Security.AuditLog? audit = null)
    {
        _options = options;
        _executor = executor;
        _logger = logger;
        _cache = options.ResultCache ? cache : null;
        _audit = audit;
    }

    private void Audit(string outcome, Kiln.Core.Security.Identity? identity, string address, string reason) =>
        _audit?.Record(new Security.AuditEvent("distcc", identity is null ? "connect" : "job", outcome, identity, address, reason));

    /// <summary>Longest wait for any single read of a request; a stalled client is closed after it.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    private NodeCounters Counters => _executor.Counters;

    /// <inheritdoc />
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var peer = connection.RemoteEndPoint as IPEndPoint;
        var address = peer?.Address is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : peer?.Address;
        if (address is null || !IsAllowed(address))
        {
            Counters.CountRefused();
            _executor.Ledger.Refused(address?.ToString() ?? "unknown", "distcc", "", "", 0, "AddressNotAllowed");
            LogPeerRefused(connection.RemoteEndPoint?.ToString() ?? "unknown");
            Audit(Security.AuditEvent.Refused, null, connection.RemoteEndPoint?.ToString() ?? "unknown",
                $"address not in the distcc listener's --allow networks ({string.Join(", ", _options.EffectiveAllow())}); the distcc protocol cannot authenticate");
            connection.Abort(new ConnectionAbortedException("client address not allowed on the distcc listener"));
            return;
        }

        var client = address.ToString();
        var cancellationToken = connection.ConnectionClosed;
        var input = connection.Transport.Input.AsStream(leaveOpen: true);
        var output = connection.Transport.Output.AsStream(leaveOpen: true);
        var reader = new DistccReader(input, ReadTimeout);
        var requestComplete = new StrongBox<bool>();
        try
        {
            await ServeAsync(client, reader, new DistccWriter(output), requestComplete, cancellationToken).ConfigureAwait(false);
        }
        catch (DistccProtocolException e)
        {
            Counters.CountProtocolError();
            LogProtocolError(client, e.Message);
        }
        catch (OperationCanceledException) when (!requestComplete.Value)
        {
            // Kestrel reports the client's FIN as a closed connection: a request cut short is truncated.
            Counters.CountProtocolError();
            LogProtocolError(client, $"connection closed after {reader.BytesRead} bytes, before the request was complete");
        }
        catch (OperationCanceledException)
        {
            LogClientGone(client);
        }
        catch (IOException e)
        {
            LogClientGone(client + ": " + e.Message);
        }
    }

    private bool IsAllowed(IPAddress address)
    {
        foreach (var network in _options.EffectiveAllow())
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private async Task ServeAsync(
        string client, DistccReader reader, DistccWriter writer, StrongBox<bool> requestComplete, CancellationToken cancellationToken)
    {
        var version = await reader.ExpectAsync("DIST", cancellationToken).ConfigureAwait(false);
        if (version is < 1 or > 3)
        {
            throw new DistccProtocolException($"distcc protocol version {version} is not served (this node speaks 1, 2 and 3)");
        }

        var compressed = version >= 2;
        string? clientDirectory = null;
        if (version == 3)
        {
            clientDirectory = await reader.ReadStringAsync("CDIR", DistccLimits.MaxStringBytes, cancellationToken).ConfigureAwait(false);
        }

        var argv = await ReadArgumentsAsync(reader, cancellationToken).ConfigureAwait(false);
        CompileResult result;
        Task<bool>? storing = null;
        if (version == 3)
        {
            var files = await ReadFilesAsync(reader, cancellationToken).ConfigureAwait(false);
            requestComplete.Value = true;
            Counters.CountJob("distcc");
            var job = new PumpJob
            {
                Compiler = argv[0],
                Arguments = argv.GetRange(1, argv.Count - 1),
                ClientDirectory = clientDirectory!,
                Files = files,
                Client = client,
            };
            result = await _executor.ExecutePumpAsync(job, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var length = await reader.ExpectAsync("DOTI", cancellationToken).ConfigureAwait(false);
            var source = await reader.ReadBodyAsync("DOTI", length, compressed, DistccLimits.MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            requestComplete.Value = true;
            Counters.CountJob("distcc");
            (result, storing) = await RunPreprocessedAsync(client, argv, source, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await ReplyAsync(client, writer, version, argv, result, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // The result is stored beside the answer; the connection ends only when it is.
            if (storing is not null)
            {
                await storing.ConfigureAwait(false);
            }
        }
    }

    private async Task ReplyAsync(string client, DistccWriter writer, uint version, List<string> argv, CompileResult result, CancellationToken cancellationToken)
    {

        if (result.Refusal == RefusalKind.Busy && !result.Ran)
        {
            // Closing without an answer makes a stock client try its next host (distccd queues instead).
            LogJobRefused(client, argv[0], result.Message ?? "busy");
            Audit(Security.AuditEvent.Refused, s_allowList, client, $"{argv[0]}: busy: {result.Message}");
            return;
        }

        CompileOutcome outcome;
        if (result.Outcome is { } ran)
        {
            outcome = ran;
            LogJobDone(client, argv[0], outcome.ExitCode);
            Audit(Security.AuditEvent.Done, s_allowList, client, $"{argv[0]} (distcc protocol {version}): exit {outcome.ExitCode}");
        }
        else
        {
            LogJobRefused(client, argv[0], result.Message ?? result.Refusal.ToString());
            Audit(Security.AuditEvent.Refused, s_allowList, client, $"{argv[0]} (distcc protocol {version}): {result.Refusal}: {result.Message}");
            var exitCode = result.Refusal == RefusalKind.NodeFailure ? NodeFailureExitCode : RefusedExitCode;
            outcome = new CompileOutcome
            {
                ExitCode = exitCode,
                Stderr = Encoding.UTF8.GetBytes($"kiln node {_options.NodeName}: {result.Message}\n"),
            };
        }

        await WriteReplyAsync(writer, version, outcome, cancellationToken).ConfigureAwait(false);
    }

    private async Task<(CompileResult Result, Task<bool>? Storing)> RunPreprocessedAsync(string client, List<string> argv, byte[] source, CancellationToken cancellationToken)
    {
        // The same scan distccd runs on the server side: a job the client should have kept local is refused.
        var command = CompileCommand.Parse(argv[0], argv.GetRange(1, argv.Count - 1));
        if (!command.IsDistributable)
        {
            Counters.CountRefused();
            _executor.Ledger.Refused(client, "distcc", argv[0], command.Source, source.Length, "NotDistributable");
            return (CompileResult.Refused(RefusalKind.ArgumentRefused, $"not a distributable compile: {command.LocalReason}"), null);
        }

        var job = new CompileJob
        {
            Compiler = argv[0],
            Arguments = command.RemoteArguments(),
            Language = command.Language.Preprocessed(),
            Input = source,
            Client = client,
            FrontEnd = "distcc",
            SourceName = command.Source,
        };

        // distcc sends no key and no locale: the node keys the job from what it received, and the
        // job runs (and is keyed) in the C locale, as distccd runs it.
        var key = _cache?.KeyOf(job.Compiler, job.Arguments, job.Language, Digest.FromBytes(source), job.Locale);
        if (key is { } k && await _cache!.LookupAsync(k, new ResultConsumer("distcc", client, client, null), cancellationToken).ConfigureAwait(false) is { } hit)
        {
            return (CompileResult.Of(hit), null);
        }

        var result = await _executor.ExecuteAsync(job, cancellationToken).ConfigureAwait(false);
        var storing = key is { } stored && result.Outcome is { } outcome ? _cache!.BeginStore(stored, outcome, "distcc", client) : null;
        return (result, storing);
    }

    private static async Task<List<string>> ReadArgumentsAsync(DistccReader reader, CancellationToken cancellationToken)
    {
        var argc = await reader.ExpectAsync("ARGC", cancellationToken).ConfigureAwait(false);
        if (argc == 0 || argc > DistccLimits.MaxArguments)
        {
            throw new DistccProtocolException($"ARGC {argc} is outside 1..{DistccLimits.MaxArguments}");
        }

        var argv = new List<string>((int)argc);
        long total = 0;
        for (var i = 0; i < argc; i++)
        {
            var length = await reader.ExpectAsync("ARGV", cancellationToken).ConfigureAwait(false);
            total += length;
            if (total > DistccLimits.MaxArgumentBytes)
            {
                throw new DistccProtocolException($"arguments exceed the limit of {DistccLimits.MaxArgumentBytes} bytes");
            }

            argv.Add(await reader.ReadStringBodyAsync("ARGV", length, DistccLimits.MaxStringBytes, cancellationToken).ConfigureAwait(false));
        }

        return argv;
    }

    private static async Task<List<PumpFile>> ReadFilesAsync(DistccReader reader, CancellationToken cancellationToken)
    {
        var count = await reader.ExpectAsync("NFIL", cancellationToken).ConfigureAwait(false);
        if (count > DistccLimits.MaxFiles)
        {
            throw new DistccProtocolException($"NFIL {count} exceeds the limit of {DistccLimits.MaxFiles} files");
        }

        var files = new List<PumpFile>((int)count);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            var name = await reader.ReadStringAsync("NAME", DistccLimits.MaxStringBytes, cancellationToken).ConfigureAwait(false);
            var header = await reader.ReadHeaderAsync("FILE or LINK", cancellationToken).ConfigureAwait(false);
            switch (header.Token)
            {
                case "FILE":
                    // The include server always compresses (protocol 3 implies LZO).
                    var content = await reader.ReadBodyAsync("FILE", header.Value, compressed: true, DistccLimits.MaxBodyBytes, cancellationToken)
                        .ConfigureAwait(false);
                    total += content.Length;
                    if (total > DistccLimits.MaxFileBytesTotal)
                    {
                        throw new DistccProtocolException($"files exceed the limit of {DistccLimits.MaxFileBytesTotal} bytes in all");
                    }

                    files.Add(new PumpFile(name, content, null));
                    break;
                case "LINK":
                    var target = await reader.ReadStringBodyAsync("LINK", header.Value, DistccLimits.MaxStringBytes, cancellationToken).ConfigureAwait(false);
                    files.Add(new PumpFile(name, null, target));
                    break;
                default:
                    throw new DistccProtocolException($"protocol derailment: expected FILE or LINK, got {header}");
            }
        }

        return files;
    }

    private static async Task WriteReplyAsync(DistccWriter writer, uint version, CompileOutcome outcome, CancellationToken cancellationToken)
    {
        var compressed = version >= 2;
        var status = DistccWaitStatus.FromExitCode(outcome.ExitCode);
        writer.Header("DONE", version);
        writer.Header("STAT", status);
        await writer.BodyAsync("SERR", outcome.Stderr, compressed, cancellationToken).ConfigureAwait(false);
        await writer.BodyAsync("SOUT", outcome.Stdout, compressed, cancellationToken).ConfigureAwait(false);
        if (status != 0)
        {
            // A failed compile carries no object; the client reads no body.
            writer.Header("DOTO", 0);
        }
        else
        {
            await writer.BodyAsync("DOTO", outcome.Object, compressed, cancellationToken).ConfigureAwait(false);
            if (version == 3)
            {
                await writer.BodyAsync("DOTD", outcome.DependencyFile ?? ReadOnlyMemory<byte>.Empty, compressed, cancellationToken).ConfigureAwait(false);
            }
        }

        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "distcc: refused connection from {Peer}: not in the allow-list")]
    private partial void LogPeerRefused(string peer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "distcc: closed connection from {Client}: {Problem}")]
    private partial void LogProtocolError(string client, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "distcc: client {Client} went away")]
    private partial void LogClientGone(string client);

    [LoggerMessage(Level = LogLevel.Warning, Message = "distcc: refused job from {Client} ({Compiler}): {Reason}")]
    private partial void LogJobRefused(string client, string compiler, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "distcc: job from {Client} ({Compiler}) exited {ExitCode}")]
    private partial void LogJobDone(string client, string compiler, int exitCode);
}
