using System.IO.Pipelines;

namespace Kiln.Tests.Protocol;

/// <summary>Two pipe ends as one duplex transport, as <c>kiln serve --stdio</c> builds from standard input and output.</summary>
internal sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
