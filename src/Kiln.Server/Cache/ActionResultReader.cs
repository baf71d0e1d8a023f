using System.Text;
using Kiln.Core.Hashing;

namespace Kiln.Server.Cache;

/// <summary>
/// Reads just enough of a serialized <c>build.bazel.remote.execution.v2.ActionResult</c> to list
/// the blobs it needs in the content store. Field numbers (remote_execution.proto):
/// ActionResult.output_files = 2 (OutputFile.digest = 2), output_directories = 3
/// (OutputDirectory.tree_digest = 3), stdout_digest = 6, stderr_digest = 8; Digest.hash = 1
/// (hex string), Digest.size_bytes = 2. Every other field is skipped.
/// </summary>
public static class ActionResultReader
{
    private const int OutputFiles = 2;
    private const int OutputDirectories = 3;
    private const int StdoutDigest = 6;
    private const int StderrDigest = 8;
    private const int OutputFileDigest = 2;
    private const int OutputDirectoryTreeDigest = 3;
    private const int DigestHash = 1;
    private const int DigestSizeBytes = 2;

    /// <summary>
    /// Adds the digests <paramref name="actionResult"/> refers to into <paramref name="references"/>
    /// (each once, and never the empty blob, which always exists). False with a reason when the bytes
    /// are not a well-formed ActionResult.
    /// </summary>
    public static bool TryReadReferences(ReadOnlySpan<byte> actionResult, List<Digest> references, out string error)
    {
        var reader = new ProtoWireReader(actionResult);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            var nestedField = field switch
            {
                OutputFiles => OutputFileDigest,
                OutputDirectories => OutputDirectoryTreeDigest,
                StdoutDigest or StderrDigest => 0,
                _ => -1,
            };
            if (nestedField < 0)
            {
                if (!reader.TrySkip(wireType))
                {
                    break;
                }

                continue;
            }

            if (wireType != ProtoWireReader.LengthDelimited)
            {
                error = $"ActionResult field {field} has wire type {wireType}, want a message";
                return false;
            }

            if (!reader.TryReadLengthDelimited(out var message))
            {
                break;
            }

            var ok = nestedField == 0
                ? TryAddDigest(message, references, out error)
                : TryAddNestedDigest(message, nestedField, references, out error);
            if (!ok)
            {
                error = $"ActionResult field {field}: {error}";
                return false;
            }
        }

        error = reader.Error ?? "";
        return reader.Error is null;
    }

    private static bool TryAddNestedDigest(ReadOnlySpan<byte> message, int digestField, List<Digest> references, out string error)
    {
        var reader = new ProtoWireReader(message);
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field != digestField)
            {
                if (!reader.TrySkip(wireType))
                {
                    break;
                }

                continue;
            }

            if (wireType != ProtoWireReader.LengthDelimited || !reader.TryReadLengthDelimited(out var digest))
            {
                error = reader.Error ?? $"field {field} has wire type {wireType}, want a Digest";
                return false;
            }

            if (!TryAddDigest(digest, references, out error))
            {
                return false;
            }
        }

        error = reader.Error ?? "";
        return reader.Error is null;
    }

    private static bool TryAddDigest(ReadOnlySpan<byte> message, List<Digest> references, out string error)
    {
        var reader = new ProtoWireReader(message);
        ReadOnlySpan<byte> hash = default;
        ulong size = 0;
        while (reader.TryReadTag(out var field, out var wireType))
        {
            if (field == DigestHash && wireType == ProtoWireReader.LengthDelimited)
            {
                if (!reader.TryReadLengthDelimited(out hash))
                {
                    break;
                }
            }
            else if (field == DigestSizeBytes && wireType == ProtoWireReader.Varint)
            {
                if (!reader.TryReadVarint(out size))
                {
                    break;
                }
            }
            else if (!reader.TrySkip(wireType))
            {
                break;
            }
        }

        if (reader.Error is not null)
        {
            error = reader.Error;
            return false;
        }

        // size_bytes is an int64: a negative one arrives as a huge varint.
        Span<char> hex = stackalloc char[Digest.HexLength];
        if (hash.Length != Digest.HexLength || Encoding.ASCII.GetChars(hash, hex) != Digest.HexLength
            || !LowerHex.IsLowerHex(hex) || size > long.MaxValue
            || !Digest.TryParse(hex, (long)size, out var digest))
        {
            error = "a Digest that is not 64 lowercase hex and a size of 0 or more";
            return false;
        }

        if (digest != Digest.Empty && !references.Contains(digest))
        {
            references.Add(digest);
        }

        error = "";
        return true;
    }
}
