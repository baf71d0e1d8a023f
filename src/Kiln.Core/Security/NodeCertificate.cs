using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kiln.Core.Security;

/// <summary>
/// A node's TLS certificate, made on first start (ECDSA P-256, self-signed, 10 years) and kept in the
/// data directory. Clients pin its <see cref="Fingerprint"/> (SHA-256 of the DER certificate, hex)
/// instead of trusting a CA: there is no CA in a build farm of strangers.
/// </summary>
public static class NodeCertificate
{
    /// <summary>Loads DATA/tls/node.pfx, or makes and saves it; <paramref name="created"/> says which.</summary>
    public static X509Certificate2 LoadOrCreate(string dataDirectory, string nodeName, out bool created) =>
        LoadOrCreateAt(Path.Combine(dataDirectory, "tls", "node.pfx"), nodeName, out created);

    /// <summary>
    /// Loads the PKCS#12 file at <paramref name="path"/>, or makes a certificate of the same kind and
    /// saves it there (mode 0600). Clients use it for their own certificate (<c>kiln cert</c>).
    /// </summary>
    public static X509Certificate2 LoadOrCreateAt(string path, string nodeName, out bool created)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        created = false;
        if (File.Exists(path))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={SafeName(nodeName)}, O=kiln node", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(SafeName(nodeName));
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
        var pfx = certificate.Export(X509ContentType.Pkcs12);

        Directory.CreateDirectory(dir);
        var temp = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, pfx);
        File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process made it first: use that one, so every process shows one fingerprint.
            File.Delete(temp);
            return X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
        }

        created = true;
        return X509CertificateLoader.LoadPkcs12(pfx, password: null);
    }

    /// <summary>The pin of a certificate: SHA-256 of its DER bytes, 64 lowercase hex characters.</summary>
    public static string Fingerprint(X509Certificate certificate) => Convert.ToHexStringLower(SHA256.HashData(certificate.GetRawCertData()));

    private static string SafeName(string name)
    {
        var chars = name.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.').ToArray();
        return chars.Length == 0 ? "kiln-node" : new string(chars);
    }
}
