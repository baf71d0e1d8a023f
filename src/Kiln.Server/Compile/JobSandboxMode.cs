namespace Kiln.Server.Compile;

/// <summary>Whether compiles run inside bubblewrap.</summary>
public enum JobSandboxMode
{
    /// <summary>bubblewrap when it is installed, else the plain job directory (the default).</summary>
    Auto,

    /// <summary>Always bubblewrap; the node does not start without it.</summary>
    Bubblewrap,

    /// <summary>No sandbox: the compiler runs as the node's user in the job directory.</summary>
    Off,
}
