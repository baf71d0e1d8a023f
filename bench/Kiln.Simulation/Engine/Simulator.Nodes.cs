namespace Kiln.Simulation.Engine;

/// <summary>What happens on the nodes: compiles finishing, owners coming and going, hangs.</summary>
internal sealed partial class Simulator
{
    private void Reschedule(NodeState node)
    {
        node.Recompute();
        if (node.NextCompletion() is not { } next)
        {
            return;
        }
        var version = node.Version;
        Events.After(next.Delay, () =>
        {
            if (node.Version == version)
            {
                Completions(node);
            }
        });
    }

    private void Completions(NodeState node)
    {
        node.Advance(Now);
        // A tolerance relative to the counter absorbs the rounding of rate × time.
        var limit = node.Served + 1e-9 + (Math.Abs(node.Served) * 1e-12);
        var finished = node.Running.FindAll(a => a.Target <= limit);
        foreach (var attempt in finished)
        {
            RemoveFromNode(node, attempt);
            attempt.State = AttemptState.Done;
            node.Completed++;
            Events.After(Latency, () => Returned(attempt));
        }
        Refill(node);
        Reschedule(node);
        if (finished.Count > 0)
        {
            _placement.OnNodeChanged(node);
        }
    }

    private static void Refill(NodeState node)
    {
        while (node.Waiting.Count > 0 && node.Running.Count < node.RunLimit)
        {
            var next = node.Waiting[0];
            node.Waiting.RemoveAt(0);
            StartRunning(node, next);
        }
    }

    private void OwnerChanges(NodeState node)
    {
        if (_clientsLeft == 0 || node.Owner is not { } owner)
        {
            return;
        }
        node.Advance(Now);
        owner.Advance();
        node.OwnerProcesses = owner.Processes;
        Reschedule(node);
        Events.At(owner.NextChange, () => OwnerChanges(node));
        if (node.Up)
        {
            _placement.OnNodeChanged(node);
        }
    }

    private void NodeHangs(NodeState node)
    {
        node.Advance(Now);
        foreach (var attempt in node.Running.Concat(node.Waiting).ToArray())
        {
            if (attempt.State == AttemptState.Running)
            {
                node.WastedWork += attempt.Job.Spec.Work - Math.Max(0, attempt.Target - node.Served);
            }
            RemoveFromNode(node, attempt);
            attempt.State = AttemptState.Lost;
            LostAttempts++;
            Events.After(_placement.LostDetection, () => Fail(attempt));
        }
        node.Up = false;
        Reschedule(node);
    }

    private void NodeReturns(NodeState node)
    {
        node.Advance(Now);
        node.Up = true;
        node.UserRefused.Clear();
        Reschedule(node);
        _placement.OnNodeChanged(node);
    }
}
