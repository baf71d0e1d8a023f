namespace Kiln.Tests.EndToEnd;

/// <summary>A theory that needs a workload's source package; skipped only when that source is absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class WorkloadTheoryAttribute : TheoryAttribute
{
    public WorkloadTheoryAttribute(Workload workload)
    {
        if (!Workloads.IsAvailable(workload))
        {
            Skip = $"the {workload} workload's source is absent ({Workloads.SourcePath(workload)}): "
                + $"apt-get install {Workloads.DebianPackage(workload)}, or run scripts/setup";
        }
    }
}
