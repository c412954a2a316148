using System;
using System.IO;
using Microsoft.CodeAnalysis;

namespace Bbcu.Generator.Parsing;

/// <summary>
/// The one place that reads the weights file's bytes.
/// </summary>
/// <remarks>
/// Roslyn has no binary additional-file API (dotnet/roslyn#47292), and <see cref="AdditionalText.GetText"/>
/// on a safetensors file makes the compiler report CS2015 and fail the build. So the generator never
/// calls <c>GetText()</c> on the weights: it reads the exact bytes from <see cref="AdditionalText.Path"/>.
/// The file is still an <c>AdditionalFiles</c> item, so the build system and the IDE re-run the
/// generator (with a new <see cref="AdditionalText"/>) when it changes.
/// </remarks>
internal static class WeightsFile
{
    /// <summary>Files larger than this are refused before reading (2 GiB: one .NET array).</summary>
    public const long MaxBytes = int.MaxValue;

    public static byte[] ReadAllBytes(AdditionalText file)
    {
#pragma warning disable RS1035 // File IO is banned in analyzers: there is no other way to read a binary AdditionalFile.
        var info = new FileInfo(file.Path);
        if (info.Length > MaxBytes)
            throw new SafetensorsException($"the file is {info.Length} bytes, above the {MaxBytes}-byte limit");
        return File.ReadAllBytes(file.Path);
#pragma warning restore RS1035
    }
}
