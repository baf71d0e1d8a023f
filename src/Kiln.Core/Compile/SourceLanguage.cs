namespace Kiln.Core.Compile;

/// <summary>The language of a compile's main input, as the compiler driver sees it.</summary>
public enum SourceLanguage
{
    /// <summary>Not a source that Kiln compiles remotely.</summary>
    Unknown,

    /// <summary>C (.c), preprocessed to .i.</summary>
    C,

    /// <summary>C++ (.cc .cpp .cxx .cp .c++ .C), preprocessed to .ii.</summary>
    Cxx,

    /// <summary>Objective-C (.m), preprocessed to .mi.</summary>
    ObjC,

    /// <summary>Objective-C++ (.mm .M), preprocessed to .mii.</summary>
    ObjCxx,

    /// <summary>Already preprocessed C (.i).</summary>
    PreprocessedC,

    /// <summary>Already preprocessed C++ (.ii).</summary>
    PreprocessedCxx,
}

/// <summary>Maps file names and <c>-x</c> values to languages.</summary>
public static class SourceLanguages
{
    /// <summary>The language a file name's extension implies, as gcc decides it.</summary>
    public static SourceLanguage FromFileName(string path)
    {
        var dot = path.LastIndexOf('.');
        if (dot < 0 || dot < path.LastIndexOf('/'))
        {
            return SourceLanguage.Unknown;
        }

        return path[(dot + 1)..] switch
        {
            "c" => SourceLanguage.C,
            "cc" or "cpp" or "cxx" or "cp" or "c++" or "C" or "CPP" => SourceLanguage.Cxx,
            "m" => SourceLanguage.ObjC,
            "mm" or "M" => SourceLanguage.ObjCxx,
            "i" => SourceLanguage.PreprocessedC,
            "ii" => SourceLanguage.PreprocessedCxx,
            _ => SourceLanguage.Unknown,
        };
    }

    /// <summary>The language named by a <c>-x</c> option; Unknown for languages Kiln keeps local.</summary>
    public static SourceLanguage FromXOption(string value) => value switch
    {
        "c" => SourceLanguage.C,
        "c++" => SourceLanguage.Cxx,
        "objective-c" => SourceLanguage.ObjC,
        "objective-c++" => SourceLanguage.ObjCxx,
        "cpp-output" => SourceLanguage.PreprocessedC,
        "c++-cpp-output" => SourceLanguage.PreprocessedCxx,
        _ => SourceLanguage.Unknown,
    };

    /// <summary>The language of the preprocessed form of a source language.</summary>
    public static SourceLanguage Preprocessed(this SourceLanguage language) => language switch
    {
        SourceLanguage.C or SourceLanguage.PreprocessedC => SourceLanguage.PreprocessedC,
        SourceLanguage.Cxx or SourceLanguage.PreprocessedCxx => SourceLanguage.PreprocessedCxx,
        SourceLanguage.ObjC => SourceLanguage.ObjC,
        SourceLanguage.ObjCxx => SourceLanguage.ObjCxx,
        _ => SourceLanguage.Unknown,
    };

    /// <summary>The file extension the compiler needs to treat an input as already preprocessed.</summary>
    public static string PreprocessedExtension(this SourceLanguage language) => language switch
    {
        SourceLanguage.C or SourceLanguage.PreprocessedC => ".i",
        SourceLanguage.Cxx or SourceLanguage.PreprocessedCxx => ".ii",
        SourceLanguage.ObjC => ".mi",
        SourceLanguage.ObjCxx => ".mii",
        _ => throw new ArgumentOutOfRangeException(nameof(language), language, "no preprocessed form"),
    };

    /// <summary>The language for a preprocessed file extension sent by a client (distcc maps names this way).</summary>
    public static SourceLanguage FromPreprocessedExtension(string extension) => extension switch
    {
        ".i" => SourceLanguage.PreprocessedC,
        ".ii" => SourceLanguage.PreprocessedCxx,
        ".mi" => SourceLanguage.ObjC,
        ".mii" => SourceLanguage.ObjCxx,
        _ => SourceLanguage.Unknown,
    };
}
