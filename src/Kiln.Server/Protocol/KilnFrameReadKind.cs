namespace Kiln.Server.Protocol;

/// <summary>The kinds of <see cref="KilnFrameRead"/>.</summary>
internal enum KilnFrameReadKind
{
    /// <summary>A whole frame; its payload stays valid until the reader is advanced to End.</summary>
    Frame,

    /// <summary>The peer closed the connection between frames.</summary>
    EndOfStream,

    /// <summary>The frame (or the connection) is refused: <see cref="KilnFrameRead.Error"/> says why.</summary>
    Refused,
}
