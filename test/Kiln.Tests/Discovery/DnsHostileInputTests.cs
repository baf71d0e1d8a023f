using System.Diagnostics;
using Kiln.Core.Discovery;

namespace Kiln.Tests.Discovery;

public sealed class DnsHostileInputTests
{
    private static void AssertRejected(string hex, string reasonPart)
    {
        var ok = DnsMessageReader.TryParse(Convert.FromHexString(hex), out _, out var error);
        Assert.False(ok);
        Assert.Contains(reasonPart, error);
    }

    [Fact]
    public void Compression_pointer_to_itself_is_rejected() =>
        AssertRejected("000000000001000000000000" + "c00c" + "000c0001", "does not point backwards");

    [Fact]
    public void Compression_loop_between_two_names_is_rejected() =>
        // Name 1 at 12: label "a" then a pointer forward to 17, where name 2's pointer leads back to 12.
        AssertRejected("000000000002000000000000" + "0161c011" + "000c0001" + "c00c" + "000c0001", "does not point backwards");

    [Fact]
    public void Pointer_run_that_turns_back_into_itself_is_rejected() =>
        // Name at 12: labels "a" and "b", then a pointer back to its own "b" label at 14: a loop inside one name.
        AssertRejected("000000000002000000000000" + "01610162c00e" + "000c0001" + "c00e" + "000c0001", "does not point backwards");

    [Fact]
    public void Pointer_past_the_end_is_rejected() =>
        AssertRejected("000000000001000000000000" + "c0ff" + "000c0001", "does not point backwards");

    [Fact]
    public void Truncated_pointer_is_rejected() =>
        AssertRejected("000000000000000100000000" + "00" + "000c0001" + "00000078" + "0001" + "c0", "past the end");

    [Fact]
    public void Huge_counts_are_rejected_before_reading() =>
        AssertRejected("0000" + "8400" + "ffff" + "ffff" + "ffff" + "ffff" + "00", "cannot fit");

    [Fact]
    public void Label_longer_than_63_bytes_is_rejected() =>
        AssertRejected("000000000001000000000000" + "40" + new string('6', 128) + "00" + "000c0001", "at most 63");

    [Fact]
    public void Name_longer_than_255_bytes_through_pointers_is_rejected()
    {
        // Four 63-byte labels, each name pointing to the one before: 4*64+1 > 255 when followed.
        var label = "3f" + string.Concat(Enumerable.Repeat("61", 63));
        var hex = "000000000004000000000000"
            + label + "00" + "000c0001"             // at 12 (0x0c): one label
            + label + "c00c" + "000c0001"           // at 81 (0x51): two labels
            + label + "c051" + "000c0001"           // at 151 (0x97): three labels
            + label + "c097" + "000c0001";          // at 221: four labels, 4 * 64 + 1 = 257 bytes
        AssertRejected(hex, "longer than 255");
    }

    [Fact]
    public void Record_data_longer_than_the_packet_is_rejected() =>
        AssertRejected("000084000000000100000000" + "00" + "0010" + "0001" + "00000078" + "00ff" + "0161", "runs past the end");

    [Fact]
    public void TXT_string_longer_than_its_record_is_rejected() =>
        AssertRejected("000084000000000100000000" + "00" + "0010" + "0001" + "00000078" + "0002" + "0561", "TXT string");

    [Fact]
    public void A_record_of_the_wrong_length_is_rejected() =>
        AssertRejected("000084000000000100000000" + "00" + "0001" + "0001" + "00000078" + "0003" + "0a0000", "not 4");

    [Fact]
    public void Every_truncation_of_a_real_announcement_fails_cleanly()
    {
        var packet = Convert.FromHexString(DnsCodecTests.AvahiAnnouncementHex);
        for (var length = 0; length < packet.Length; length++)
        {
            Assert.False(DnsMessageReader.TryParse(packet.AsSpan(0, length), out _, out var error), $"length {length} parsed");
            Assert.NotEmpty(error);
        }
    }

    [Fact]
    public void Thousands_of_mutants_never_throw_or_hang()
    {
        var seeds = new List<byte[]>
        {
            Convert.FromHexString(DnsCodecTests.AvahiAnnouncementHex),
            DnsMessageWriter.Encode(new DnsMessage
            {
                Questions = [new DnsQuestion(ServiceTypes.Kiln, DnsRecordType.Ptr), new DnsQuestion(MulticastDns.DistccSubtype("x86_64-linux-gnu", "12"), DnsRecordType.Ptr)],
            })!,
            DnsMessageWriter.Encode(new DnsMessage
            {
                Flags = 0x8400,
                Answers =
                [
                    new DnsRecord("n._kiln._tcp.local", DnsRecordType.Srv, 120, new SrvData(0, 0, 3635, "n.local"), true),
                    new DnsRecord("n.local", DnsRecordType.Nsec, 120, new NsecData("n.local", [DnsRecordType.A, DnsRecordType.Aaaa])),
                    new DnsRecord("n.local", DnsRecordType.Aaaa, 120, new AddressData(System.Net.IPAddress.IPv6Loopback)),
                ],
            })!,
        };

        var random = new Random(6762);
        var parsed = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 30_000; i++)
        {
            var mutant = Mutate(seeds[i % seeds.Count], random);
            var single = Stopwatch.StartNew();
            if (DnsMessageReader.TryParse(mutant, out var message, out _))
            {
                parsed++;
                // Whatever parses must also re-encode or be refused, without throwing.
                _ = DnsMessageWriter.Encode(message);
            }

            Assert.True(single.ElapsedMilliseconds < 500, $"mutant {i} took {single.ElapsedMilliseconds} ms: {Convert.ToHexString(mutant)}");
        }

        Assert.InRange(parsed, 1, 29_999);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"30000 mutants took {clock.Elapsed}");
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = seed.ToList();
        var edits = random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    break;
                case 1 when bytes.Count > 0:
                    // Compression-pointer-shaped bytes are the dangerous ones.
                    bytes[random.Next(bytes.Count)] = (byte)(0xC0 | random.Next(64));
                    break;
                case 2 when bytes.Count > 0:
                    bytes.RemoveRange(random.Next(bytes.Count), 1);
                    break;
                case 3:
                    bytes.Insert(random.Next(bytes.Count + 1), (byte)random.Next(256));
                    break;
                default:
                    bytes = bytes.Take(random.Next(bytes.Count + 1)).ToList();
                    break;
            }
        }

        return [.. bytes];
    }
}
