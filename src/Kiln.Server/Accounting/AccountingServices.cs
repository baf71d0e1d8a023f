using Kiln.Server.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Kiln.Server.Accounting;

/// <summary>Registers the job ledger, its database and writer, the dashboard feed and housekeeping.</summary>
internal static class AccountingServices
{
    public static void Add(IServiceCollection services, KilnNodeOptions options)
    {
        services.AddSingleton(options.Accounting);
        if (options.Accounting.Enabled)
        {
            ChildProcessorTime.Start();
        }

        services.AddSingleton(new JobLedger(options.NodeName, options.Accounting.Enabled));
        services.AddSingleton(sp =>
        {
            var database = AccountingDatabase.Open(options.DataDirectory);
            sp.GetRequiredService<JobLedger>().StartNumberingAt(database.LastId(options.NodeName) + 1);
            return database;
        });
        services.AddSingleton<JobWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<JobWriter>());
        services.TryAddSingleton<IContestedActions, NoContestedActions>();
        services.AddSingleton<DashboardFeed>();
        services.AddHostedService<AccountingHousekeeping>();
    }
}
