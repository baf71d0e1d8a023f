namespace Kiln.Core.Cas;

/// <summary>What opening a store found and repaired after an unclean stop.</summary>
/// <param name="TempFilesRemoved">Writes in progress that a crash left in <c>tmp/</c>.</param>
/// <param name="RowsDropped">Index rows whose blob file was gone.</param>
/// <param name="FilesAdopted">Blob files without an index row whose hash checked out.</param>
/// <param name="FilesRemoved">Blob files that were misnamed, the wrong size, or failed their hash.</param>
/// <param name="BlobsEvicted">Blobs evicted to get under the cap.</param>
public sealed record RecoveryReport(int TempFilesRemoved, int RowsDropped, int FilesAdopted, int FilesRemoved, long BlobsEvicted);
