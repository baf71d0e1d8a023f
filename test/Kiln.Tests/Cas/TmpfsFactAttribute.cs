namespace Kiln.Tests.Cas;

/// <summary>A fact that needs to mount a tmpfs; skipped, saying why, where mounting is not permitted.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (TmpfsMount.WhyNotPermitted is { } why)
        {
            Skip = why;
        }
    }
}
