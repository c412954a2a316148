using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace Bbcu.Tests.Infrastructure;

/// <summary>What a child <c>dotnet</c> process did: its exit code, its merged output and how long it ran.</summary>
public sealed record BuildResult(int ExitCode, string Output, TimeSpan Elapsed)
{
    public string[] Lines { get; } = Output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
}

/// <summary>Runs <c>dotnet</c> (build, pack, new, a built program) as a child process and collects its output.</summary>
internal static class DotnetCli
{
    /// <summary>The dotnet executable running the tests (or the one on PATH).</summary>
    public static string Host()
    {
        string? main = Environment.ProcessPath;
        if (main is not null && Path.GetFileNameWithoutExtension(main) == "dotnet") return main;
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host : "dotnet";
    }

    /// <summary>Runs the dotnet CLI in <paramref name="dir"/> with our MSBuild variables removed and <paramref name="env"/> added.</summary>
    public static BuildResult Run(string dir, int timeoutMs, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(Host())
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        // The test host may run under `dotnet test`, whose MSBuild variables must not leak into a separate build.
        foreach (string key in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        if (env is not null) foreach (var (key, value) in env) psi.Environment[key] = value;

        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeoutMs))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit();
            lock (output) throw new TimeoutException($"dotnet {string.Join(' ', args)} ran over {timeoutMs / 1000} s:\n{output}");
        }
        process.WaitForExit(); // drains the asynchronous output readers
        lock (output) return new BuildResult(process.ExitCode, output.ToString(), sw.Elapsed);
    }
}
