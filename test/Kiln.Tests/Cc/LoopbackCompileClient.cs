using System.Collections.Concurrent;
using System.Diagnostics;
using Kiln.Core.Compile;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;

namespace Kiln.Tests.Cc;

/// <summary>
/// A loopback stand-in for the network: compiles the preprocessed input the way a node does, with the
/// real compiler in a fresh temporary directory (input.i/.ii, <c>-c</c>, <c>-o output.o</c>, a scrubbed
/// environment with only the client's locale), so nothing of the client's directory is visible. Hosts
/// can be told to fail, be busy or refuse, and it counts calls and the most compiles in flight at once.
/// </summary>
internal sealed class LoopbackCompileClient : IRemoteCompileClient
{
    private int _inFlight;
    private int _mostInFlight;

    /// <summary>What each host (by its Display name) answers instead of compiling; absent = compile.</summary>
    public ConcurrentDictionary<string, RemoteCompileReply> Answers { get; } = new(StringComparer.Ordinal);

    /// <summary>Calls per host Display name.</summary>
    public ConcurrentDictionary<string, int> Calls { get; } = new(StringComparer.Ordinal);

    /// <summary>The requests received, in order of arrival.</summary>
    public ConcurrentQueue<RemoteCompileRequest> Requests { get; } = new();

    /// <summary>The most compiles that ran at the same time.</summary>
    public int MostInFlight => Volatile.Read(ref _mostInFlight);

    /// <summary>Held open by a compile until set, so tests can overlap compiles on purpose.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public int TotalCalls
    {
        get
        {
            var total = 0;
            foreach (var (_, count) in Calls)
            {
                total += count;
            }

            return total;
        }
    }

    public async Task<RemoteCompileReply> CompileAsync(HostSpec host, RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        Calls.AddOrUpdate(host.Display, 1, (_, n) => n + 1);
        Requests.Enqueue(request);
        if (Answers.TryGetValue(host.Display, out var answer))
        {
            return answer;
        }

        var now = Interlocked.Increment(ref _inFlight);
        int seen;
        while (now > (seen = Volatile.Read(ref _mostInFlight)) && Interlocked.CompareExchange(ref _mostInFlight, now, seen) != seen)
        {
        }

        try
        {
            if (Gate is { } gate)
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            return await RunCompilerAsync(request, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static async Task<RemoteCompileReply> RunCompilerAsync(RemoteCompileRequest request, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("kiln-loopback-").FullName;
        try
        {
            var input = "input" + request.Language.PreprocessedExtension();
            await File.WriteAllBytesAsync(Path.Combine(dir, input), request.Preprocessed, cancellationToken);
            var info = new ProcessStartInfo(request.Compiler)
            {
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in request.Arguments)
            {
                info.ArgumentList.Add(a);
            }

            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(input);
            info.ArgumentList.Add("-o");
            info.ArgumentList.Add("output.o");
            info.Environment.Clear();
            info.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
            foreach (var (name, value) in request.Locale)
            {
                info.Environment[name] = value;
            }

            using var process = Process.Start(info)!;
            using var stdout = new MemoryStream();
            using var stderr = new MemoryStream();
            await Task.WhenAll(
                process.StandardOutput.BaseStream.CopyToAsync(stdout, cancellationToken),
                process.StandardError.BaseStream.CopyToAsync(stderr, cancellationToken));
            await process.WaitForExitAsync(cancellationToken);
            var output = Path.Combine(dir, "output.o");
            var obj = process.ExitCode == 0 && File.Exists(output) ? await File.ReadAllBytesAsync(output, cancellationToken) : [];
            return new RemoteCompileReply(RemoteStatus.Completed,
                new CompileOutcome { ExitCode = process.ExitCode, Stdout = stdout.ToArray(), Stderr = stderr.ToArray(), Object = obj }, null);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
