using System.Diagnostics;

namespace Kiln.Tests.TestKit;

/// <summary>Waits on a condition with a deadline that says what it waited for (no bare sleeps).</summary>
public static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"timed out after {limit.TotalSeconds:0.#} s waiting for {what}");
            }

            await Task.Delay(20);
        }
    }
}
