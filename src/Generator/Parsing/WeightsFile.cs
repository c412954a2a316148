using System;
using System.IO;

namespace Bbcu.Generator.Parsing;

/// <summary>
/// The one place that reads the weights file's bytes.
/// </summary>
/// <remarks>
/// Roslyn has no binary additional-file API (dotnet/roslyn#47292), and <c>AdditionalText.GetText()</c>
/// on a safetensors file makes the compiler report CS2015 and fail the build. So the generator never
/// calls <c>GetText()</c> on the weights: it reads the exact bytes from the file's path.
/// The weights of a plain <c>AdditionalFiles</c> pair are still an item, so the build system and the IDE
/// re-run the generator (with a new <c>AdditionalText</c>) when they change; the weights of a
/// <c>&lt;BbcuModel&gt;</c> item are no item at all (no other analyzer can then read them as text), and
/// the hash MSBuild passes with the model's JSON item re-runs the read when they change.
/// </remarks>
internal static class WeightsFile
{
    /// <summary>Files larger than this are refused before reading (2 GiB: one .NET array).</summary>
    public const long MaxBytes = int.MaxValue;

    public static byte[] ReadAllBytes(string path)
    {
#pragma warning disable RS1035 // File IO is banned in analyzers: there is no other way to read a binary file.
        var info = new FileInfo(path);
        if (info.Length > MaxBytes)
            throw new SafetensorsException($"the file is {info.Length} bytes, above the {MaxBytes}-byte limit");
        return File.ReadAllBytes(path);
    }

    /// <summary>Whether the file is there (tells a wrong path from an unreadable file).</summary>
    public static bool Exists(string path) => File.Exists(path);
#pragma warning restore RS1035
}
