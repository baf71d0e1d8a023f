namespace Kiln.Tests.EndToEnd;

/// <summary>
/// A fact that needs a workload's source package. It is skipped, with the package to install, only
/// when that source is absent; every other problem (a failed build, a missing compiler) fails the test.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class WorkloadFactAttribute : FactAttribute
{
    public WorkloadFactAttribute(Workload workload)
    {
        if (!Workloads.IsAvailable(workload))
        {
            Skip = $"the {workload} workload's source is absent ({Workloads.SourcePath(workload)}): "
                + $"apt-get install {Workloads.DebianPackage(workload)}, or run scripts/setup";
        }
    }
}
