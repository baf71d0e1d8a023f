using System.Globalization;

namespace Kiln.Core.Hosts;

/// <summary>The result of parsing a host list: the hosts, global options, and errors with their words.</summary>
public sealed record HostList(IReadOnlyList<HostSpec> Hosts, bool Randomize, int LocalSlots, int LocalSlotsCpp, IReadOnlyList<string> Errors);

/// <summary>
/// Parses <c>KILN_HOSTS</c>, a superset of distcc's <c>DISTCC_HOSTS</c> grammar (distcc's src/hosts.c):
/// <c>localhost[/N]</c>, <c>[user]@host[/N][:command][,opts]</c>, <c>host[:port][/N][,opts]</c>,
/// the old <c>host[/N][:port]</c> order, <c>[ipv6]</c>, <c>--randomize</c>, <c>--localslots=N</c>,
/// <c>--localslots_cpp=N</c>, <c>+zeroconf</c>, <c>#</c> comments; options <c>lzo</c>, <c>cpp</c>,
/// <c>auth[=name]</c>, <c>down</c>, and Kiln's <c>distcc</c>, <c>kiln</c> and <c>tag=value</c>.
/// </summary>
public static class HostListParser
{
    /// <summary>distcc's default per-host limit for remote hosts.</summary>
    public const int DefaultRemoteLimit = 4;

    /// <summary>distcc's default limit for localhost.</summary>
    public const int DefaultLocalLimit = 2;

    /// <summary>Parses a whole host list.</summary>
    public static HostList Parse(string text)
    {
        var hosts = new List<HostSpec>();
        var errors = new List<string>();
        var randomize = false;
        var localSlots = 4;
        var localSlotsCpp = 8;
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine;
            var hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }

            foreach (var word in line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries))
            {
                if (word == "--randomize")
                {
                    randomize = true;
                    continue;
                }

                if (word.StartsWith("--localslots_cpp=", StringComparison.Ordinal))
                {
                    if (!TryPositive(word["--localslots_cpp=".Length..], out localSlotsCpp))
                    {
                        errors.Add($"'{word}': the slot count must be a positive number");
                    }

                    continue;
                }

                if (word.StartsWith("--localslots=", StringComparison.Ordinal))
                {
                    if (!TryPositive(word["--localslots=".Length..], out localSlots))
                    {
                        errors.Add($"'{word}': the slot count must be a positive number");
                    }

                    continue;
                }

                var spec = ParseHost(word, out var error);
                if (spec is null)
                {
                    errors.Add($"'{word}': {error}");
                }
                else
                {
                    hosts.Add(spec);
                }
            }
        }

        return new HostList(hosts, randomize, localSlots, localSlotsCpp, errors);
    }

    /// <summary>Parses one host word, or returns null with a reason.</summary>
    public static HostSpec? ParseHost(string word, out string? error)
    {
        error = null;
        if (word == "+zeroconf" || word.StartsWith("+zeroconf,", StringComparison.Ordinal))
        {
            // +zeroconf,KEY=VALUE keeps only the discovered nodes that advertise KEY=VALUE.
            var zeroconfTags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var option in word.Split(',').Skip(1))
            {
                if (option.IndexOf('=') is not (var eq and > 0))
                {
                    error = $"'+zeroconf' takes only KEY=VALUE filters, not ',{option}'";
                    return null;
                }

                zeroconfTags[option[..eq]] = option[(eq + 1)..];
            }

            return new HostSpec { Text = word, Kind = HostKind.Zeroconf, Tags = zeroconfTags };
        }

        // Options come after the first comma that is outside an IPv6 bracket.
        var body = word;
        var options = Array.Empty<string>();
        var bracketEnd = word.StartsWith('[') ? word.IndexOf(']') : -1;
        var comma = word.IndexOf(',', Math.Max(bracketEnd, 0));
        if (comma >= 0)
        {
            body = word[..comma];
            options = word[(comma + 1)..].Split(',');
        }

        var lzo = false;
        var cpp = false;
        var down = false;
        string? auth = null;
        string? fingerprint = null;
        var plaintext = false;
        HostProtocol? protocol = null;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in options)
        {
            switch (option)
            {
                case "lzo":
                    lzo = true;
                    break;
                case "cpp":
                    cpp = true;
                    break;
                case "down":
                    down = true;
                    break;
                case "distcc":
                    protocol = HostProtocol.Distcc;
                    break;
                case "kiln":
                    protocol = HostProtocol.Kiln;
                    break;
                case "auth":
                    auth = "";
                    break;
                case "plain":
                    plaintext = true;
                    break;
                default:
                    if (option.StartsWith("fp=", StringComparison.Ordinal))
                    {
                        fingerprint = option[3..].Replace(":", "", StringComparison.Ordinal).ToLowerInvariant();
                        if (fingerprint.Length != 64 || !fingerprint.All(char.IsAsciiHexDigit))
                        {
                            error = $"',{option}': a fingerprint is the 64 hex characters of SHA-256 that 'kiln serve' prints";
                            return null;
                        }
                    }
                    else if (option.StartsWith("auth=", StringComparison.Ordinal))
                    {
                        auth = option[5..];
                    }
                    else if (option.IndexOf('=') is var eq and > 0)
                    {
                        tags[option[..eq]] = option[(eq + 1)..];
                    }
                    else
                    {
                        error = $"unknown option ',{option}' (known: lzo, cpp, auth, down, distcc, kiln, fp=SHA256HEX, plain, tag=value)";
                        return null;
                    }

                    break;
            }
        }

        if (cpp && !lzo)
        {
            error = "',cpp' needs ',lzo' (distcc protocol 3 is always compressed)";
            return null;
        }

        // ,lzo and ,cpp are distcc protocol options; a Kiln node answers distcc on its distcc port.
        var effectiveProtocol = protocol ?? (lzo || cpp ? HostProtocol.Distcc : HostProtocol.Kiln);

        if (body == "localhost" || body.StartsWith("localhost/", StringComparison.Ordinal))
        {
            var localLimit = DefaultLocalLimit;
            var given = false;
            if (body.Length > "localhost".Length)
            {
                if (!TryPositive(body["localhost/".Length..], out localLimit))
                {
                    error = "the limit after '/' must be a positive number";
                    return null;
                }

                given = true;
            }

            return new HostSpec { Text = word, Kind = HostKind.Local, Host = "localhost", Limit = localLimit, LimitGiven = given };
        }

        var at = body.IndexOf('@');
        if (at >= 0)
        {
            // [user]@host[/limit][:command]
            var user = at > 0 ? body[..at] : null;
            var rest = body[(at + 1)..];
            string? command = null;
            var colon = rest.IndexOf(':');
            if (colon >= 0)
            {
                command = rest[(colon + 1)..];
                rest = rest[..colon];
            }

            if (!SplitLimit(rest, out var sshHost, out var sshLimit, out var sshGiven, out error))
            {
                return null;
            }

            if (sshHost.Length == 0)
            {
                error = "no host name after '@'";
                return null;
            }

            return new HostSpec
            {
                Text = word,
                Kind = HostKind.Ssh,
                Host = sshHost,
                User = user,
                Command = command,
                Limit = sshLimit,
                LimitGiven = sshGiven,
                Lzo = lzo,
                Cpp = cpp,
                Down = down,
                Auth = auth,
                Protocol = effectiveProtocol,
                Tags = tags,
            };
        }

        string host;
        var rem = body;
        if (rem.StartsWith('['))
        {
            var close = rem.IndexOf(']');
            if (close < 0)
            {
                error = "an IPv6 address needs a closing ']'";
                return null;
            }

            host = rem[1..close];
            rem = rem[(close + 1)..];
        }
        else
        {
            var end = rem.IndexOfAny([':', '/']);
            host = end < 0 ? rem : rem[..end];
            rem = end < 0 ? "" : rem[end..];
        }

        if (host.Length == 0)
        {
            error = "no host name";
            return null;
        }

        var port = 0;
        var limit = DefaultRemoteLimit;
        var limitGiven = false;
        // Both "host:port/limit" and the old "host/limit:port" orders.
        while (rem.Length > 0)
        {
            var next = rem.IndexOfAny([':', '/'], 1);
            var part = next < 0 ? rem[1..] : rem[1..next];
            if (rem[0] == ':')
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
                {
                    error = $"'{part}' is not a port number (1-65535)";
                    return null;
                }
            }
            else if (!TryPositive(part, out limit))
            {
                error = "the limit after '/' must be a positive number";
                return null;
            }
            else
            {
                limitGiven = true;
            }

            rem = next < 0 ? "" : rem[next..];
        }

        // Port 3632 is distcc's: a plain "host:3632" entry from a DISTCC_HOSTS list keeps meaning distccd.
        if (protocol is null && port == 3632)
        {
            effectiveProtocol = HostProtocol.Distcc;
        }

        // Plaintext would send the token and the sources in clear: only a loopback address may ask for it.
        if (plaintext && !(System.Net.IPAddress.TryParse(host, out var plainAddress) && System.Net.IPAddress.IsLoopback(plainAddress)))
        {
            error = "',plain' (no TLS) is only for loopback addresses such as 127.0.0.1";
            return null;
        }

        return new HostSpec
        {
            Text = word,
            Kind = HostKind.Tcp,
            Host = host,
            Port = port,
            Limit = limit,
            LimitGiven = limitGiven,
            Lzo = lzo,
            Cpp = cpp,
            Down = down,
            Auth = auth,
            Protocol = effectiveProtocol,
            Tags = tags,
            Fingerprint = fingerprint,
            Plaintext = plaintext,
        };
    }

    private static bool SplitLimit(string text, out string host, out int limit, out bool given, out string? error)
    {
        error = null;
        limit = DefaultRemoteLimit;
        given = false;
        var slash = text.IndexOf('/');
        host = slash < 0 ? text : text[..slash];
        if (slash >= 0)
        {
            if (!TryPositive(text[(slash + 1)..], out limit))
            {
                error = "the limit after '/' must be a positive number";
                return false;
            }

            given = true;
        }

        return true;
    }

    private static bool TryPositive(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
}
