using System.Text.Json;
using Kiln.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Kiln.Server.Security;

/// <summary>
/// The node's audit log: every job and every refusal, with identity, address and reason, as JSON
/// lines in <c>DATA/audit.jsonl</c> (one object per line, appended and flushed as it happens), and
/// through the logger. Fields: <c>time</c> (UTC, ISO 8601), <c>listener</c>, <c>action</c>,
/// <c>outcome</c>, <c>identity</c> (token or certificate id), <c>name</c>, <c>role</c>,
/// <c>address</c>, <c>reason</c>.
/// </summary>
public sealed partial class AuditLog : IDisposable
{
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(512);
    private FileStream? _file;

    /// <summary>Opens (appends to) the log in the node's data directory.</summary>
    public AuditLog(KilnNodeOptions options, ILogger<AuditLog> logger, TimeProvider? time = null)
    {
        _logger = logger;
        _time = time ?? TimeProvider.System;
        Path = FilePath(options.DataDirectory);
    }

    /// <summary>The log file.</summary>
    public string Path { get; }

    /// <summary>The log file inside a node's data directory.</summary>
    public static string FilePath(string dataDirectory) => System.IO.Path.Combine(dataDirectory, "audit.jsonl");

    /// <summary>Appends one event and logs it.</summary>
    public void Record(AuditEvent e)
    {
        var who = e.Identity is null ? "unknown" : $"{e.Identity.Name} ({e.Identity.Id})";
        if (e.Outcome == AuditEvent.Refused)
        {
            LogRefused(_logger, e.Listener, e.Action, who, e.Address, e.Reason);
        }
        else
        {
            LogDone(_logger, e.Listener, e.Action, who, e.Address, e.Reason);
        }

        lock (_lock)
        {
            var buffer = _buffer;
            buffer.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("time", _time.GetUtcNow().UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
                json.WriteString("listener", e.Listener);
                json.WriteString("action", e.Action);
                json.WriteString("outcome", e.Outcome);
                json.WriteString("identity", e.Identity?.Id);
                json.WriteString("name", e.Identity?.Name);
                json.WriteString("role", e.Identity is { Role: > 0 } i ? NodeAuthenticator.RoleName(i.Role) : null);
                json.WriteString("address", e.Address);
                json.WriteString("reason", e.Reason);
                json.WriteEndObject();
            }

            System.Buffers.BuffersExtensions.Write(buffer, "\n"u8);
            try
            {
                _file ??= OpenFile();
                _file.Write(buffer.WrittenSpan);
                _file.Flush();
            }
            catch (IOException ex)
            {
                // A full disk must not stop the node serving; the logger still has the event.
                LogWriteFailed(_logger, Path, ex.Message);
            }
        }
    }

    private FileStream OpenFile()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return file;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "audit: {Listener} {Action} refused for {Who} from {Address}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string listener, string action, string who, string address, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "audit: {Listener} {Action} for {Who} from {Address}: {Reason}")]
    private static partial void LogDone(ILogger logger, string listener, string action, string who, string address, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "audit: cannot write {Path}: {Problem}")]
    private static partial void LogWriteFailed(ILogger logger, string path, string problem);
}
