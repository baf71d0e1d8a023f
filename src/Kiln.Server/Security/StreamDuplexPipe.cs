using System.IO.Pipelines;

namespace Kiln.Server.Security;

/// <summary>Pipes over a stream (the TLS stream of a connection), handed to the protocol handler as the connection's transport.</summary>
internal sealed class StreamDuplexPipe(Stream stream) : IDuplexPipe
{
    public PipeReader Input { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));

    public PipeWriter Output { get; } = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
}
