using System;
using System.IO;
using System.Linq;
using System.Reflection;

namespace Bbcu.Tests.Infrastructure;

/// <summary>Paths inside the repository and scratch folders for tests.</summary>
public static class Repo
{
    public static string Root { get; } = typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!;

    public static string Path(params string[] parts) => System.IO.Path.Combine(new[] { Root }.Concat(parts).ToArray());

    /// <summary>A new empty folder under the system temp directory.</summary>
    public static string TempFolder(string prefix)
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "bbcu-tests", prefix + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
