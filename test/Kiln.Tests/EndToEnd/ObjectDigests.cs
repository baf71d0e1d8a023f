using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Tests.EndToEnd;

/// <summary>
/// The object files (<c>*.o</c>, <c>*.os</c>, <c>*.oS</c>) one build left, by path relative to its
/// build directory, with their digests. Two builds of the same tree with the same compiler and flags
/// give identical objects, wherever the compiles ran: that is what a remote compile must preserve.
/// </summary>
public sealed class ObjectDigests
{
    private ObjectDigests(SortedDictionary<string, Digest> objects)
    {
        Objects = objects;
    }

    /// <summary>Relative path (with '/') to digest, in ordinal order.</summary>
    public IReadOnlyDictionary<string, Digest> Objects { get; }

    public int Count => Objects.Count;

    /// <summary>Hashes every object file under <paramref name="buildDirectory"/>.</summary>
    public static async Task<ObjectDigests> CaptureAsync(string buildDirectory, CancellationToken cancellationToken)
    {
        var objects = new SortedDictionary<string, Digest>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(buildDirectory, "*", SearchOption.AllDirectories))
        {
            var extension = Path.GetExtension(file);
            if (extension is not (".o" or ".os" or ".oS"))
            {
                continue;
            }

            await using var stream = File.OpenRead(file);
            objects[Path.GetRelativePath(buildDirectory, file).Replace('\\', '/')] =
                await Digest.FromStreamAsync(stream, cancellationToken);
        }

        return new ObjectDigests(objects);
    }

    /// <summary>
    /// The differences from <paramref name="reference"/>, one line each (missing, extra, different);
    /// empty when the two builds produced identical objects.
    /// </summary>
    public IReadOnlyList<string> DifferencesFrom(ObjectDigests reference)
    {
        var differences = new List<string>();
        foreach (var (path, digest) in reference.Objects)
        {
            if (!Objects.TryGetValue(path, out var actual))
            {
                differences.Add($"missing   {path}");
            }
            else if (actual != digest)
            {
                differences.Add($"different {path}: {actual} instead of {digest}");
            }
        }

        foreach (var path in Objects.Keys)
        {
            if (!reference.Objects.ContainsKey(path))
            {
                differences.Add($"extra     {path}");
            }
        }

        return differences;
    }

    /// <summary>Fails with the first differences when this build's objects are not identical to the reference's.</summary>
    public void AssertIdenticalTo(ObjectDigests reference, string what)
    {
        var differences = DifferencesFrom(reference);
        if (differences.Count > 0)
        {
            Assert.Fail($"{what}: {differences.Count} of {reference.Count} objects differ from the local reference:\n"
                + string.Join('\n', differences.Take(20)));
        }
    }

    /// <summary>Writes the digests in sha256sum's format (hash, two spaces, path), for people and scripts.</summary>
    public async Task WriteSha256SumsAsync(string path, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        foreach (var (name, digest) in Objects)
        {
            text.Append(digest.Hex).Append("  ").Append(name).Append('\n');
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path + ".tmp", text.ToString(), cancellationToken);
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
