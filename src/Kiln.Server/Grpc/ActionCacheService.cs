using Build.Bazel.Remote.Execution.V2;
using Google.Protobuf;
using Kiln.Core.Cas;
using Kiln.Server.Trust;
using Digest = Kiln.Core.Hashing.Digest;
using ProtoDigest = Build.Bazel.Remote.Execution.V2.Digest;

namespace Kiln.Server.Grpc;

/// <summary>
/// <c>build.bazel.remote.execution.v2.ActionCache</c> on the node's action cache. An entry's value
/// is the serialised ActionResult (a CAS blob); its references are every blob the result names
/// (output files, the files inside output directory trees, stdout, stderr), so a result whose
/// outputs were evicted is a miss, never a broken hit.
/// </summary>
internal sealed class ActionCacheService(IContentStore store, IActionCache actionCache, IResultGate? gate = null, NodeTrust? trust = null)
{
    /// <summary>The action cache namespace of Bazel action results.</summary>
    public const string Namespace = "bazel-ac";

    /// <summary>The full path of GetActionResult.</summary>
    public const string GetActionResultPath = "/build.bazel.remote.execution.v2.ActionCache/GetActionResult";

    /// <summary>The full path of UpdateActionResult.</summary>
    public const string UpdateActionResultPath = "/build.bazel.remote.execution.v2.ActionCache/UpdateActionResult";

    /// <summary>The longest instance name served (the action cache key holds it and the hash).</summary>
    public const int MaxInstanceNameLength = 512;

    /// <summary>The action cache key of an action digest within an instance (the bare hash for the default instance).</summary>
    public static string Key(string instance, Digest action) => instance.Length == 0 ? action.Hex : $"{instance}/{action.Hex}";

    /// <summary>Serves GetActionResult: the stored ActionResult, or NOT_FOUND when absent or incomplete.</summary>
    public async ValueTask<GrpcStatus> GetActionResultAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(GetActionResultRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        var check = RequestChecks.DigestFunctionServed(request.DigestFunction);
        if (!check.IsOk)
        {
            return check;
        }

        if (!DigestMessages.TryParse(request.ActionDigest, out var action))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"action digest '{DigestMessages.Describe(request.ActionDigest)}' is not a SHA-256 digest");
        }

        if (request.InstanceName.Length > MaxInstanceNameLength)
        {
            return LongInstanceName(request.InstanceName);
        }

        // An instance name p/NAME[/rest] names the consumer's trust policy; entries live under rest.
        var instance = PolicyRoute.StripInstance(request.InstanceName, out var policyName);
        var key = Key(instance, action);
        var entry = await actionCache.GetAsync(Namespace, key, cancellationToken).ConfigureAwait(false);
        if (entry is null)
        {
            return NotFound(action);
        }

        if (gate is not null)
        {
            var consumer = new ResultConsumer("bazel-grpc", call.Caller, call.Caller, policyName is null ? null : trust?.Resolve(policyName));
            if (!await gate.MayServeAsync(Namespace, key, entry.Value, consumer, cancellationToken).ConfigureAwait(false))
            {
                return NotFound(action);
            }
        }

        // The action cache checks completeness; asking the store again also extends the outputs'
        // lifetimes, which the API asks of a hit (SHOULD), since Bazel fetches them next.
        if (entry.References.Count > 0)
        {
            var missing = await store.FindMissingAsync(entry.References, cancellationToken).ConfigureAwait(false);
            if (missing.Count > 0)
            {
                return NotFound(action);
            }
        }

        if (entry.Value.Size > GrpcLimits.MaxSendMessageSize)
        {
            return NotFound(action);
        }

        var value = await ContentStorageService.ReadBlobAsync(store, entry.Value, cancellationToken).ConfigureAwait(false);
        if (value is null)
        {
            return NotFound(action);
        }

        return await call.WriteMessageAsync(value, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Serves UpdateActionResult: stores the ActionResult once every blob it names is in the CAS
    /// (FAILED_PRECONDITION names the first missing one), and answers it back.
    /// </summary>
    public async ValueTask<GrpcStatus> UpdateActionResultAsync(GrpcCall call, CancellationToken cancellationToken)
    {
        var read = await call.ReadUnaryAsync(UpdateActionResultRequest.Parser, cancellationToken).ConfigureAwait(false);
        if (read.Message is not { } request)
        {
            return read.Status;
        }

        var check = RequestChecks.DigestFunctionServed(request.DigestFunction);
        if (!check.IsOk)
        {
            return check;
        }

        if (!DigestMessages.TryParse(request.ActionDigest, out var action))
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"action digest '{DigestMessages.Describe(request.ActionDigest)}' is not a SHA-256 digest");
        }

        if (request.InstanceName.Length > MaxInstanceNameLength)
        {
            return LongInstanceName(request.InstanceName);
        }

        if (request.ActionResult is not { } result)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, "the request has no action_result");
        }

        var references = new HashSet<Digest>();
        var status = await CollectReferencesAsync(result, references, cancellationToken).ConfigureAwait(false);
        if (!status.IsOk)
        {
            return status;
        }

        references.Remove(Digest.Empty);
        if (references.Count > SqliteActionCache.MaxReferences)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"the action result names {references.Count} blobs, above {SqliteActionCache.MaxReferences}");
        }

        var referenceList = new List<Digest>(references);
        if (referenceList.Count > 0)
        {
            var missing = await store.FindMissingAsync(referenceList, cancellationToken).ConfigureAwait(false);
            if (missing.Count > 0)
            {
                return GrpcStatus.Of(
                    GrpcStatusCode.FailedPrecondition,
                    $"{missing.Count} blob(s) the action result names are not in the CAS, first {missing[0]}; upload outputs before the result");
            }
        }

        var bytes = result.ToByteArray();
        if (bytes.Length > GrpcLimits.MaxSendMessageSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"action result of {bytes.Length} bytes is larger than {GrpcLimits.MaxSendMessageSize} bytes");
        }

        PutResult put;
        using (var content = new MemoryStream(bytes, writable: false))
        {
            put = await store.PutAsync(content, cancellationToken).ConfigureAwait(false);
        }

        if (!put.Ok)
        {
            return RequestChecks.FromPut(put, Digest.FromBytes(bytes));
        }

        var entry = new ActionEntry(put.Digest, referenceList);
        if (!await actionCache.PutAsync(Namespace, Key(PolicyRoute.StripInstance(request.InstanceName, out _), action), entry, call.Caller, cancellationToken).ConfigureAwait(false))
        {
            return GrpcStatus.Of(GrpcStatusCode.FailedPrecondition, $"the action cache did not take the result of {action}");
        }

        return await call.WriteMessageAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<GrpcStatus> CollectReferencesAsync(ActionResult result, HashSet<Digest> references, CancellationToken cancellationToken)
    {
        foreach (var file in result.OutputFiles)
        {
            if (!DigestMessages.TryParse(file.Digest, out var digest))
            {
                return Invalid($"output file '{file.Path}'", file.Digest);
            }

            references.Add(digest);
        }

        foreach (var (name, message) in new[] { ("stdout", result.StdoutDigest), ("stderr", result.StderrDigest) })
        {
            if (message is null)
            {
                continue;
            }

            if (!DigestMessages.TryParse(message, out var digest))
            {
                return Invalid(name, message);
            }

            references.Add(digest);
        }

        foreach (var directory in result.OutputDirectories)
        {
            if (!DigestMessages.TryParse(directory.TreeDigest, out var tree))
            {
                return Invalid($"output directory '{directory.Path}'", directory.TreeDigest);
            }

            references.Add(tree);
            if (directory.RootDirectoryDigest is { } rootMessage)
            {
                if (!DigestMessages.TryParse(rootMessage, out var root))
                {
                    return Invalid($"output directory '{directory.Path}' root", rootMessage);
                }

                references.Add(root);
            }

            var status = await CollectTreeFilesAsync(directory.Path, tree, references, cancellationToken).ConfigureAwait(false);
            if (!status.IsOk)
            {
                return status;
            }
        }

        return GrpcStatus.Ok;
    }

    private async ValueTask<GrpcStatus> CollectTreeFilesAsync(string path, Digest tree, HashSet<Digest> references, CancellationToken cancellationToken)
    {
        if (tree.Size > GrpcLimits.MaxTreeSize)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"output directory '{path}' has a tree of {tree.Size} bytes, above {GrpcLimits.MaxTreeSize}");
        }

        var bytes = tree == Digest.Empty ? [] : await ContentStorageService.ReadBlobAsync(store, tree, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return GrpcStatus.Of(GrpcStatusCode.FailedPrecondition, $"the tree {tree} of output directory '{path}' is not in the CAS");
        }

        Tree parsed;
        try
        {
            parsed = Tree.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            return GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"the tree {tree} of output directory '{path}' is not a Tree message: {e.Message}");
        }

        var status = CollectDirectoryFiles(path, parsed.Root, references);
        foreach (var child in parsed.Children)
        {
            if (!status.IsOk)
            {
                break;
            }

            status = CollectDirectoryFiles(path, child, references);
        }

        return status;
    }

    private static GrpcStatus CollectDirectoryFiles(string path, Build.Bazel.Remote.Execution.V2.Directory? directory, HashSet<Digest> references)
    {
        if (directory is null)
        {
            return GrpcStatus.Ok;
        }

        foreach (var file in directory.Files)
        {
            if (!DigestMessages.TryParse(file.Digest, out var digest))
            {
                return Invalid($"file '{file.Name}' in output directory '{path}'", file.Digest);
            }

            references.Add(digest);
        }

        return GrpcStatus.Ok;
    }

    private static GrpcStatus Invalid(string what, ProtoDigest? message) =>
        GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"{what} has digest '{DigestMessages.Describe(message)}', not a SHA-256 digest");

    private static GrpcStatus LongInstanceName(string instance) =>
        GrpcStatus.Of(GrpcStatusCode.InvalidArgument, $"instance name of {instance.Length} characters is longer than {MaxInstanceNameLength}");

    private static GrpcStatus NotFound(Digest action) =>
        GrpcStatus.Of(GrpcStatusCode.NotFound, $"no action result for {action}");
}
