using System.Collections.Concurrent;

namespace Kiln.Server.Compile;

/// <summary>
/// A background thread that lives as long as the process and runs the work handed to it one item
/// at a time: child processes started from it keep their parent thread (see
/// <see cref="JobSandbox.StartAsync"/>).
/// </summary>
internal sealed class SpawnThread
{
    private readonly BlockingCollection<Action> _work = [];

    public SpawnThread()
    {
        var thread = new Thread(Loop) { IsBackground = true, Name = "kiln-spawn" };
        thread.Start();
    }

    /// <summary>Runs <paramref name="start"/> on the thread and gives back its result or exception.</summary>
    public Task<T> Run<T>(Func<T> start)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(start());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private void Loop()
    {
        foreach (var item in _work.GetConsumingEnumerable())
        {
            item();
        }
    }
}
