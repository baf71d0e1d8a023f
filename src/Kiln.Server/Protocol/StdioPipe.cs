using System.IO.Pipelines;

namespace Kiln.Server.Protocol;

/// <summary>Standard input and output as the duplex transport of one <see cref="KilnSession"/>.</summary>
internal sealed class StdioPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;
}
