using Kiln.Core.Cas;
using Kiln.Core.Hashing;
using static Kiln.Tests.Cas.StoreTestData;

namespace Kiln.Tests.Cas;

/// <summary>The store on a 2 MiB tmpfs: a full disk is a result, never a lost or damaged blob.</summary>
public sealed class StoreFullDiskTests
{
    [TmpfsFact]
    public async Task AFullDiskIsNoSpaceAndStoredBlobsStayIntact()
    {
        using var mount = TmpfsMount.TryMount("2m", out var error) ?? throw new InvalidOperationException(error);
        var earlier = new List<(Digest Digest, byte[] Bytes)>();
        using (var store = FileContentStore.Open(new ContentStoreOptions { Directory = mount.Path }))
        {
            for (var i = 0; i < 3; i++)
            {
                var bytes = Bytes(100 + i, 200_000);
                earlier.Add((await PutAsync(store, bytes), bytes));
            }

            // Declared size larger than the disk: refused up front by the space reservation.
            var huge = Bytes(200, 3 << 20);
            var declared = await store.PutAsync(Digest.FromBytes(huge), new MemoryStream(huge), CancellationToken.None);
            Assert.Equal(PutStatus.NoSpace, declared.Status);
            Assert.Contains("no space left", declared.Message);
            Assert.Contains("nothing was stored", declared.Message);

            // Size unknown until the end: the disk fills mid-stream.
            var undeclared = await store.PutAsync(new MemoryStream(huge), CancellationToken.None);
            Assert.Equal(PutStatus.NoSpace, undeclared.Status);
            Assert.Contains("no space left", undeclared.Message);

            Assert.Empty(TempFiles(mount.Path));
            Assert.Equal(3, store.GetStatistics().BlobCount);
            foreach (var (digest, bytes) in earlier)
            {
                Assert.Equal(bytes, await ReadAsync(store, digest));
            }

            // The failed writes gave their space back: a small put works.
            var small = Bytes(300, 50_000);
            Assert.Equal(PutStatus.Stored, (await store.PutAsync(Digest.FromBytes(small), new MemoryStream(small), CancellationToken.None)).Status);
            earlier.Add((Digest.FromBytes(small), small));

            // Fill the disk to the last block with blobs that each fit alone.
            var filled = 0;
            for (var i = 0; i < 20; i++)
            {
                var bytes = Bytes(400 + i, 150_000);
                var put = await store.PutAsync(Digest.FromBytes(bytes), new MemoryStream(bytes), CancellationToken.None);
                if (put.Status == PutStatus.NoSpace)
                {
                    break;
                }

                Assert.Equal(PutStatus.Stored, put.Status);
                earlier.Add((put.Digest, bytes));
                filled++;
            }

            Assert.InRange(filled, 1, 19);
            foreach (var (digest, bytes) in earlier)
            {
                Assert.Equal(bytes, await ReadAsync(store, digest));
            }

            Assert.Equal(earlier.Count, AssertEveryFileMatchesItsName(mount.Path));
        }

        // Reopened under a cap of half the disk, eviction frees room and later puts work again.
        using (var store = FileContentStore.Open(new ContentStoreOptions { Directory = mount.Path, CapacityBytes = 1 << 20 }))
        {
            Assert.True(store.Recovery.BlobsEvicted > 0);
            var later = Bytes(500, 150_000);
            Assert.Equal(PutStatus.Stored, (await store.PutAsync(Digest.FromBytes(later), new MemoryStream(later), CancellationToken.None)).Status);
            Assert.Equal(later, await ReadAsync(store, Digest.FromBytes(later)));
            Assert.Equal(store.GetStatistics().BlobCount, AssertEveryFileMatchesItsName(mount.Path));
        }
    }
}
