using System.Net;
using System.Net.Sockets;
using Kiln.Core.Compile;
using Kiln.Core.Distcc;
using Kiln.Core.Hosts;
using Kiln.Core.Remote;
using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>Helpers the distcc tests share: raw exchanges, a known-good job, local reference compiles.</summary>
internal static class DistccTestKit
{
    public static HostSpec Host(IPEndPoint endPoint, bool lzo = false) => new()
    {
        Text = $"127.0.0.1:{endPoint.Port}" + (lzo ? ",lzo" : ""),
        Kind = HostKind.Tcp,
        Host = "127.0.0.1",
        Port = endPoint.Port,
        Lzo = lzo,
        Protocol = HostProtocol.Distcc,
    };

    /// <summary>Headers and bodies of a request, built with the codec.</summary>
    public static byte[] Request(uint version, IReadOnlyList<string> argv, byte[]? doti, bool compress = false)
    {
        using var buffer = new MemoryStream();
        var writer = new DistccWriter(buffer);
        writer.Header("DIST", version);
        writer.Header("ARGC", (uint)argv.Count);
        foreach (var a in argv)
        {
            writer.String("ARGV", a);
        }

        if (doti is not null)
        {
            writer.BodyAsync("DOTI", doti, compress, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }

        writer.FlushAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    /// <summary>
    /// Sends <paramref name="request"/>, optionally half-closes, and returns every byte the server sent
    /// until it closed. A reset counts as a close. Fails if the server neither answers nor closes in 20 s.
    /// </summary>
    public static async Task<byte[]> ExchangeAsync(IPEndPoint endPoint, byte[] request, bool halfClose = true, IPAddress? from = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // A node that refuses the peer may reset the connection before the connect returns here.
            return [];
        }

        try
        {
            await socket.SendAsync(request, SocketFlags.None, deadline.Token);
            if (halfClose)
            {
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (SocketException)
        {
            // The server may close before reading everything (garbage, refused peer): that is an answer.
        }

        using var received = new MemoryStream();
        var chunk = new byte[65536];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(chunk, SocketFlags.None, deadline.Token)) > 0)
            {
                received.Write(chunk, 0, read);
            }
        }
        catch (SocketException)
        {
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the distcc server neither answered nor closed the connection within 20 s");
        }

        return received.ToArray();
    }

    /// <summary>A parsed v1/v2/v3 reply.</summary>
    public sealed record Reply(uint Version, int ExitCode, string Stderr, byte[] Object);

    public static async Task<Reply> ParseReplyAsync(byte[] bytes, bool compressed)
    {
        var reader = new DistccReader(new MemoryStream(bytes), TimeSpan.FromSeconds(5));
        var ct = CancellationToken.None;
        var version = await reader.ExpectAsync("DONE", ct);
        var status = await reader.ExpectAsync("STAT", ct);
        var stderr = await reader.ReadBodyAsync("SERR", await reader.ExpectAsync("SERR", ct), compressed, 1 << 20, ct);
        await reader.ReadBodyAsync("SOUT", await reader.ExpectAsync("SOUT", ct), compressed, 1 << 20, ct);
        var objLength = await reader.ExpectAsync("DOTO", ct);
        var obj = status == 0 ? await reader.ReadBodyAsync("DOTO", objLength, compressed, 1 << 24, ct) : [];
        return new Reply(version, DistccWaitStatus.ToExitCode(status), System.Text.Encoding.UTF8.GetString(stderr), obj);
    }

    public const string GoodSource = "int kiln_answer(int x) { return x * 6 + 7; }\n";

    /// <summary>Preprocesses <paramref name="source"/> as C with gcc.</summary>
    public static async Task<byte[]> PreprocessAsync(TempDirectory dir, string name, string source)
    {
        dir.Write(name, source);
        var output = dir.Combine(Path.ChangeExtension(name, ".i"));
        var run = await Tools.RunAsync("gcc", ["-E", name, "-o", output], dir.Path);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return await File.ReadAllBytesAsync(output);
    }

    /// <summary>Compiles <paramref name="name"/> locally with gcc -c and returns the object.</summary>
    public static async Task<byte[]> LocalObjectAsync(TempDirectory dir, string compiler, string name, params string[] flags)
    {
        var output = dir.Combine("local-" + Path.ChangeExtension(name, ".o"));
        var run = await Tools.RunAsync(compiler, [.. flags, "-c", name, "-o", output], dir.Path);
        Assert.True(run.ExitCode == 0, run.Stderr);
        return await File.ReadAllBytesAsync(output);
    }

    /// <summary>A valid job through <see cref="DistccClient"/>: proves the node still serves after hostile input.</summary>
    public static async Task AssertServesValidJobAsync(IPEndPoint endPoint, bool lzo = true)
    {
        using var dir = new TempDirectory("kiln-distcc-valid");
        var preprocessed = await PreprocessAsync(dir, "valid.c", GoodSource);
        var expected = await LocalObjectAsync(dir, "gcc", "valid.c");
        var request = new RemoteCompileRequest
        {
            Compiler = "gcc",
            Arguments = [],
            Language = SourceLanguage.PreprocessedC,
            Preprocessed = preprocessed,
            SourceName = "valid.c",
            OutputName = "valid.o",
        };
        var reply = await new DistccClient().CompileAsync(Host(endPoint, lzo), request, CancellationToken.None);
        Assert.True(reply.Status == RemoteStatus.Completed, reply.Message);
        Assert.Equal(0, reply.Outcome!.ExitCode);
        Assert.Equal(expected, reply.Outcome.Object.ToArray());
    }
}
