using System.Buffers;
using Kiln.Core.Protocol;

namespace Kiln.Server.Protocol;

/// <summary>What reading one frame from a session's input gave.</summary>
internal readonly record struct KilnFrameRead(
    KilnFrameReadKind Kind, KilnFrameHeader Header, ReadOnlySequence<byte> Payload, SequencePosition End, KilnError? Error);
