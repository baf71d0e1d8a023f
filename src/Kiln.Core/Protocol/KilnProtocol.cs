namespace Kiln.Core.Protocol;

/// <summary>Constants of the Kiln protocol (see docs/protocol.md).</summary>
public static class KilnProtocol
{
    /// <summary>The protocol's default TCP port.</summary>
    public const int DefaultPort = 3635;

    /// <summary>The highest protocol version this code speaks.</summary>
    public const ushort Version = 1;

    /// <summary>The lowest protocol version this code speaks.</summary>
    public const ushort MinVersion = 1;

    /// <summary>The four bytes HELLO starts with: "KILN".</summary>
    public static ReadOnlySpan<byte> Magic => "KILN"u8;

    /// <summary>Largest payload of any frame: 64 MiB. Checked from the header, before the payload is buffered.</summary>
    public const int MaxFrameLength = 64 << 20;

    /// <summary>
    /// Largest INPUT payload: 256 KiB. Inputs of any size travel as several INPUT frames, and a
    /// receiver never holds more than one chunk of a frame it has not checked.
    /// </summary>
    public const int MaxInputChunk = 256 << 10;

    /// <summary>
    /// Largest HELLO or JOB payload a server accepts: 512 KiB, under Kestrel's 1 MiB connection
    /// buffer so a whole control frame always fits in it.
    /// </summary>
    public const int MaxControlFrameLength = 512 << 10;

    /// <summary>
    /// The largest result (object, dependency file, stdout and stderr) a node sends behind a MANIFEST
    /// unasked-for (<see cref="KilnFrameFlags.WithResult"/>): 256 KiB, what a round trip at 4 ms carries
    /// at about 500 Mbit/s. A larger one waits for FETCH, so a changed header never costs more than that.
    /// </summary>
    public const int EagerResultLimit = 256 << 10;

    /// <summary>The largest SYNC payload, either way.</summary>
    public const int MaxSyncPayload = 64;

    /// <summary>True when an ERROR with this code ends the connection (codes below 100).</summary>
    public static bool ClosesConnection(KilnErrorCode code) => (ushort)code < 100;

    /// <summary>The largest payload a server accepts in a client frame of this type, or -1 when servers never receive it.</summary>
    public static int MaxClientPayload(KilnFrameType type) => type switch
    {
        KilnFrameType.Hello or KilnFrameType.Job => MaxControlFrameLength,
        KilnFrameType.Input => MaxInputChunk,
        KilnFrameType.Lookup or KilnFrameType.Fetch => Hashing.ActionKey.Length,
        KilnFrameType.Record or KilnFrameType.Preprocess => MaxControlFrameLength,
        KilnFrameType.Sync => MaxSyncPayload,
        _ => -1,
    };
}
