namespace Kiln.Server.Cache;

/// <summary>How a ccache client maps its keys onto URL paths (its <c>layout=</c> attribute).</summary>
public enum CcacheLayout
{
    /// <summary><c>PATH/ab/cdef…</c>: the key's first two characters, a slash, the rest (ccache's default).</summary>
    Subdirs,

    /// <summary><c>PATH/abcdef…</c>: the whole key.</summary>
    Flat,

    /// <summary><c>PATH/ac/</c> + the key as 40 hex + its first 24 hex again (64 hex, like a SHA-256).</summary>
    Bazel,
}
