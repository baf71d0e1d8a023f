namespace Kiln.Simulation.Engine;

/// <summary>A job's way from the client to a node and back.</summary>
internal sealed partial class Simulator
{
    /// <summary>Sends a copy of <paramref name="job"/> to <paramref name="node"/>; <paramref name="slot"/> is
    /// distcc's lock, if any.</summary>
    public Attempt Send(JobState job, NodeState node, int slot = -1)
    {
        var attempt = new Attempt(job, node, Now) { Slot = slot };
        job.Attempts.Add(attempt);
        Events.After(Latency, () => Arrive(attempt));
        return attempt;
    }

    /// <summary>Compiles <paramref name="job"/> on its client (the fallback every tool has).</summary>
    public void CompileLocally(JobState job)
    {
        if (job.Done || job.Local)
        {
            return;
        }
        job.Local = true;
        var client = Clients[job.Spec.Client];
        client.LocalFallbacks++;
        client.RunLocal(Events, job.Spec.Work, () => Complete(job));
    }

    private void Arrive(Attempt attempt)
    {
        if (attempt.State != AttemptState.InFlight)
        {
            return;
        }
        var node = attempt.Node;
        if (!node.Up)
        {
            // A hung node neither accepts nor resets: the connect times out.
            attempt.State = AttemptState.Lost;
            LostAttempts++;
            Events.After(_placement.ConnectTimeout, () => Fail(attempt));
            return;
        }
        if (attempt.Job.Done)
        {
            EndAttempt(attempt, AttemptState.Cancelled);
            return;
        }
        if (!_placement.Admit(node, attempt))
        {
            BusyReplies++;
            attempt.State = AttemptState.Cancelled;
            Events.After(Latency, () =>
            {
                EndAttempt(attempt, AttemptState.Cancelled);
                if (!attempt.Job.Done)
                {
                    _placement.OnBusy(attempt);
                }
            });
            return;
        }
        node.Advance(Now);
        if (node.Running.Count < node.RunLimit)
        {
            StartRunning(node, attempt);
        }
        else
        {
            attempt.State = AttemptState.Waiting;
            node.Waiting.Add(attempt);
        }
        Reschedule(node);
    }

    private static void StartRunning(NodeState node, Attempt attempt)
    {
        attempt.State = AttemptState.Running;
        attempt.Target = node.Served + attempt.Job.Spec.Work;
        node.Running.Add(attempt);
        var user = attempt.Job.Spec.Client;
        node.UserRunning[user] = node.UserRunning.GetValueOrDefault(user) + 1;
    }

    /// <summary>The client gives up on a copy on a hung node.</summary>
    private void Fail(Attempt attempt)
    {
        if (attempt.Ended)
        {
            return;
        }
        EndAttempt(attempt, AttemptState.Lost);
        if (!attempt.Job.Done)
        {
            _placement.OnFailed(attempt);
        }
    }

    /// <summary>The result is back at the client.</summary>
    private void Returned(Attempt attempt)
    {
        if (attempt.Ended)
        {
            return;
        }
        EndAttempt(attempt, AttemptState.Done);
        if (!attempt.Job.Done)
        {
            Complete(attempt.Job);
        }
    }

    /// <summary>make gets the job's result: withdraw any other copy, start the next compile or the link.</summary>
    private void Complete(JobState job)
    {
        job.Completions++;
        if (job.Completions > 1)
        {
            return;
        }
        foreach (var other in job.Attempts.ToArray())
        {
            Withdraw(other);
        }
        var client = Clients[job.Spec.Client];
        client.Remote.Remove(job);
        client.Finished++;
        if (client.Finished < client.Spec.JobCount)
        {
            StartNextJob(client);
            return;
        }
        client.RunLocal(Events, client.Spec.Link, () =>
        {
            client.End = Now;
            _clientsLeft--;
        });
    }

    /// <summary>Withdraws a copy whose job finished elsewhere (the client closes the connection; the
    /// node kills the compiler).</summary>
    private void Withdraw(Attempt attempt)
    {
        if (attempt.Ended)
        {
            return;
        }
        var node = attempt.Node;
        if (attempt.State is AttemptState.Running or AttemptState.Waiting)
        {
            node.Advance(Now);
            if (attempt.State == AttemptState.Running)
            {
                node.WastedWork += attempt.Job.Spec.Work - Math.Max(0, attempt.Target - node.Served);
            }
            RemoveFromNode(node, attempt);
            Refill(node);
            Reschedule(node);
        }
        EndAttempt(attempt, AttemptState.Cancelled);
        if (node.Up)
        {
            _placement.OnNodeChanged(node);
        }
    }

    private void EndAttempt(Attempt attempt, AttemptState state)
    {
        if (attempt.Ended)
        {
            return;
        }
        attempt.Ended = true;
        if (attempt.State != AttemptState.Lost)
        {
            attempt.State = state;
        }
        attempt.Job.Attempts.Remove(attempt);
        _placement.OnEnded(attempt);
    }

    private static void RemoveFromNode(NodeState node, Attempt attempt)
    {
        if (node.Running.Remove(attempt))
        {
            var user = attempt.Job.Spec.Client;
            node.UserRunning[user]--;
        }
        else
        {
            node.Waiting.Remove(attempt);
        }
    }
}
