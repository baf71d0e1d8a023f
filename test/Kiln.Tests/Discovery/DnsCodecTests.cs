using System.Net;
using Kiln.Core.Discovery;

namespace Kiln.Tests.Discovery;

public sealed class DnsCodecTests
{
    /// <summary>
    /// An announcement avahi-daemon 0.8 sent after <c>avahi-publish -s build-box _distcc._tcp 3632 cpus=2 jobs=4</c>
    /// (host-name=avahi3, 10.201.9.1), captured from another network namespace on UDP 5353.
    /// </summary>
    internal const string AvahiAnnouncementHex =
        "000084000000000500000000096275696c642d626f78075f646973746363045f746370056c6f63616c000010800100001194000e06637075733d32066a6f62733d34c016000c0001000011940002c00cc00c0021800100000078000f000000000e3006617661686933c023c062000180010000007800040ac90901095f7365727669636573075f646e732d7364045f756470c023000c0001000011940002c016";

    [Fact]
    public void Query_for_one_PTR_matches_the_RFC_1035_layout()
    {
        var bytes = DnsMessageWriter.Encode(new DnsMessage { Questions = [new DnsQuestion("_kiln._tcp.local", DnsRecordType.Ptr)] });

        byte[] expected =
        [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // id 0, flags 0, 1 question
            5, (byte)'_', (byte)'k', (byte)'i', (byte)'l', (byte)'n',
            4, (byte)'_', (byte)'t', (byte)'c', (byte)'p',
            5, (byte)'l', (byte)'o', (byte)'c', (byte)'a', (byte)'l', 0,
            0x00, 0x0c, 0x00, 0x01, // PTR, IN
        ];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void QU_bit_and_cache_flush_bit_are_the_top_bit_of_the_class()
    {
        var bytes = DnsMessageWriter.Encode(new DnsMessage
        {
            Questions = [new DnsQuestion("a.local", DnsRecordType.Any, UnicastResponse: true)],
            Answers = [new DnsRecord("a.local", DnsRecordType.A, 120, new AddressData(IPAddress.Parse("10.0.0.1")), CacheFlush: true)],
        })!;

        // Question: 01 'a' 05 'local' 00 | 00 ff | 80 01
        Assert.Equal(Convert.FromHexString("0161056c6f63616c0000ff8001"), bytes[12..25]);
        // Answer: pointer to 12 | A | 80 01 | ttl 120 | rdlength 4 | 10.0.0.1
        Assert.Equal(Convert.FromHexString("c00c000180010000007800040a000001"), bytes[25..]);
        Assert.True(DnsMessageReader.TryParse(bytes, out var parsed, out var error), error);
        Assert.True(parsed.Questions[0].UnicastResponse);
        Assert.True(parsed.Answers[0].CacheFlush);
        Assert.Equal(1, parsed.Answers[0].Class);
    }

    [Fact]
    public void Response_compresses_owner_names_and_PTR_and_SRV_targets()
    {
        var instance = "node1._kiln._tcp.local";
        var message = new DnsMessage
        {
            Flags = 0x8400,
            Answers =
            [
                new DnsRecord("_kiln._tcp.local", DnsRecordType.Ptr, 4500, new PtrData(instance)),
                new DnsRecord(instance, DnsRecordType.Srv, 120, new SrvData(0, 0, 3635, "node1.local"), CacheFlush: true),
                new DnsRecord(instance, DnsRecordType.Txt, 4500, new TxtData([.. new[] { "txtvers=1", "slots=2" }.Select(System.Text.Encoding.ASCII.GetBytes)]), CacheFlush: true),
                new DnsRecord("node1.local", DnsRecordType.A, 120, new AddressData(IPAddress.Parse("10.201.7.1")), CacheFlush: true),
            ],
        };

        var expected = Convert.FromHexString(string.Concat(
            "0000", "8400", "0000", "0004", "0000", "0000",
            // offset 12: _kiln._tcp.local PTR IN 4500, rdlength 8: 05 node1 -> pointer to 12
            "055f6b696c6e045f746370056c6f63616c00", "000c", "0001", "00001194", "0008", "056e6f646531", "c00c",
            // offset 48: node1._kiln... is the label at 40: pointer c028; SRV, flush, 120, rdlength 14
            "c028", "0021", "8001", "00000078", "000e", "0000", "0000", "0e33", "056e6f646531", "c017",
            // TXT: pointer c028, flush, 4500, rdlength 18
            "c028", "0010", "8001", "00001194", "0012", "09747874766572733d31", "07736c6f74733d32",
            // A: node1.local is the SRV target label at 66: pointer c042
            "c042", "0001", "8001", "00000078", "0004", "0ac90701"));

        var bytes = DnsMessageWriter.Encode(message);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(bytes!));

        Assert.True(DnsMessageReader.TryParse(expected, out var parsed, out var error), error);
        Assert.Equal(message.Answers, parsed.Answers);
        Assert.True(parsed.IsResponse);
    }

    [Fact]
    public void NSEC_writes_its_next_name_in_full_and_a_type_bitmap()
    {
        var record = new DnsRecord("node1.local", DnsRecordType.Nsec, 120, new NsecData("node1.local", [DnsRecordType.A, DnsRecordType.Aaaa]), CacheFlush: true);
        var bytes = DnsMessageWriter.Encode(new DnsMessage { Flags = 0x8400, Answers = [record] })!;

        var expected = Convert.FromHexString(string.Concat(
            "000084000000000100000000",
            "056e6f646531056c6f63616c00", "002f", "8001", "00000078", "0013",
            "056e6f646531056c6f63616c00", // next name, not compressed
            "0004", "40000008")); // window 0, 4 bytes: bit 1 (A), bit 28 (AAAA)
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(bytes));
        Assert.True(DnsMessageReader.TryParse(bytes, out var parsed, out var error), error);
        Assert.Equal(record, parsed.Answers[0]);
    }

    [Fact]
    public void Empty_TXT_is_one_empty_string()
    {
        var bytes = DnsMessageWriter.Encode(new DnsMessage { Answers = [new DnsRecord("x.local", DnsRecordType.Txt, 1, new TxtData([]))] })!;
        Assert.Equal(Convert.FromHexString("000100"), bytes[^3..]);
    }

    [Fact]
    public void Instance_names_with_dots_and_spaces_round_trip()
    {
        var name = DnsName.Join("Build box 2.0 (fast)", ServiceTypes.Kiln);
        Assert.Equal("Build box 2\\.0 (fast)._kiln._tcp.local", name);
        var bytes = DnsMessageWriter.Encode(new DnsMessage { Answers = [new DnsRecord(ServiceTypes.Kiln, DnsRecordType.Ptr, 10, new PtrData(name))] })!;
        Assert.True(DnsMessageReader.TryParse(bytes, out var parsed, out var error), error);
        var target = ((PtrData)parsed.Answers[0].Data).Target;
        Assert.Equal(name, target);
        Assert.Equal("Build box 2.0 (fast)", DnsName.FirstLabel(target));
        // The label is 20 bytes with the dot inside it, then a pointer to _kiln._tcp.local at offset 12.
        Assert.Equal([(byte)20, .. "Build box 2.0 (fast)"u8.ToArray(), 0xc0, 0x0c], bytes[^23..]);
    }

    [Fact]
    public void Parses_a_real_Avahi_announcement()
    {
        Assert.True(DnsMessageReader.TryParse(Convert.FromHexString(AvahiAnnouncementHex), out var message, out var error), error);

        Assert.True(message.IsResponse);
        Assert.Equal(5, message.Answers.Count);
        var txt = Assert.Single(message.Answers, r => r.Type == DnsRecordType.Txt);
        Assert.Equal("build-box._distcc._tcp.local", txt.Name);
        Assert.True(txt.CacheFlush);
        Assert.Equal(4500u, txt.Ttl);
        Assert.Equal("2", ((TxtData)txt.Data).Attributes()["cpus"]);
        Assert.Equal("4", ((TxtData)txt.Data).Attributes()["jobs"]);
        var srv = (SrvData)Assert.Single(message.Answers, r => r.Type == DnsRecordType.Srv).Data;
        Assert.Equal(new SrvData(0, 0, 3632, "avahi3.local"), srv);
        var a = Assert.Single(message.Answers, r => r.Type == DnsRecordType.A);
        Assert.Equal("avahi3.local", a.Name);
        Assert.Equal(IPAddress.Parse("10.201.9.1"), ((AddressData)a.Data).Address);
        Assert.Contains(message.Answers, r => r.Name == MulticastDns.ServicesName && r.Data == new PtrData("_distcc._tcp.local"));

        var found = ServiceBrowser.Resolve([ServiceTypes.Distcc], message.Answers);
        var service = Assert.Single(found);
        Assert.Equal(("build-box", "_distcc._tcp", 3632, "10.201.9.1"), (service.Instance, service.ServiceType, service.Port, service.Address));
    }

    [Fact]
    public void Resolve_drops_instances_said_goodbye_to()
    {
        var instance = "gone._kiln._tcp.local";
        DnsRecord[] records =
        [
            new(ServiceTypes.Kiln, DnsRecordType.Ptr, 4500, new PtrData(instance)),
            new(instance, DnsRecordType.Srv, 120, new SrvData(0, 0, 1, "h.local")),
            new(ServiceTypes.Kiln, DnsRecordType.Ptr, 0, new PtrData(instance)),
        ];
        Assert.Empty(ServiceBrowser.Resolve([ServiceTypes.Kiln], records));
        Assert.Single(ServiceBrowser.Resolve([ServiceTypes.Kiln], records[..2]));
    }

    [Fact]
    public void Distcc_subtype_replaces_characters_outside_a_to_z_and_digits()
    {
        Assert.Equal("_x86-64-linux-gnu--12._sub._distcc._tcp.local", MulticastDns.DistccSubtype("x86_64-linux-gnu", "12"));
        Assert.Equal("_aarch64-linux-gnu--12-2-0._sub._distcc._tcp.local", MulticastDns.DistccSubtype("aarch64-Linux-gnu", "12.2.0"));
        Assert.Equal(ServiceTypes.Distcc, ServiceTypes.BaseOf(MulticastDns.DistccSubtype("x", "1")));
    }

    [Fact]
    public void Writer_refuses_unencodable_names()
    {
        Assert.Null(DnsMessageWriter.Encode(new DnsMessage { Questions = [new DnsQuestion(new string('a', 64) + ".local", DnsRecordType.A)] }));
        Assert.Null(DnsMessageWriter.Encode(new DnsMessage { Questions = [new DnsQuestion("a..local", DnsRecordType.A)] }));
        var long256 = string.Join('.', Enumerable.Repeat(new string('b', 63), 4));
        Assert.Null(DnsMessageWriter.Encode(new DnsMessage { Questions = [new DnsQuestion(long256, DnsRecordType.A)] }));
    }
}
