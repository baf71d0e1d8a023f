using Kiln.Tests.TestKit;

namespace Kiln.Tests.Distcc;

/// <summary>
/// Debian 12's distcc-pump include server fails on Python 3.11 ("PY_SSIZE_T_CLEAN macro must be defined
/// for '#' formats": its C extension predates the upstream fix), so every pump job silently falls back
/// to local preprocessing. This sitecustomize module, put on PYTHONPATH, replaces the three affected
/// functions of that extension with Python equivalents (LZO through liblzo2) before the include server
/// imports them; the rest of the stock client is unchanged.
/// </summary>
internal static class PumpIncludeServerShim
{
    private const string SiteCustomize = """
        import ctypes, os, sys
        try:
            sys.path.insert(0, '/usr/lib/python3/dist-packages/include_server')
            import distcc_pump_c_extensions as ext
            del sys.path[0]
            lzo = ctypes.CDLL('liblzo2.so.2')
            work = ctypes.create_string_buffer(16384 * ctypes.sizeof(ctypes.c_void_p))
            def CompressLzo1xAlloc(data):
                if isinstance(data, str):
                    data = data.encode('latin-1')
                out = ctypes.create_string_buffer(len(data) + len(data) // 16 + 64 + 3)
                out_len = ctypes.c_size_t(len(out))
                rc = lzo.lzo1x_1_compress(data, ctypes.c_size_t(len(data)), out, ctypes.byref(out_len), work)
                if rc != 0:
                    raise IOError('lzo1x_1_compress failed: %d' % rc)
                return out.raw[:out_len.value]
            ext.CompressLzo1xAlloc = CompressLzo1xAlloc
            ext.OsPathIsFile = os.path.isfile
            ext.OsPathExists = os.path.exists
        except ImportError:
            pass

        """;

    /// <summary>Writes the module into <paramref name="dir"/> and returns the directory to put on PYTHONPATH.</summary>
    public static string Install(TempDirectory dir)
    {
        dir.Write("pyshim/sitecustomize.py", SiteCustomize);
        return dir.Combine("pyshim");
    }
}
