using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Bbcu.Generator.Diagnostics;
using Bbcu.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Bbcu.Tests;

/// <summary>
/// docs/diagnostics.md and the help links that lead there: every descriptor (and every MSBuild warning of the
/// package's build targets) links to its own section, from the one project URL of Directory.Build.props; the doc
/// has exactly one section per ID, each with the severity, a message of the ID's real format, the cause, an
/// example and the fix.
/// </summary>
public sealed class DiagnosticDocsTests
{
    private static string ProjectUrl =>
        XDocument.Load(Repo.Path("Directory.Build.props")).Descendants("PackageProjectUrl").Single().Value.Trim();

    private static string DocUrl => ProjectUrl.TrimEnd('/') + "/blob/main/docs/diagnostics.md";

    private static string Doc => File.ReadAllText(Repo.Path("docs", "diagnostics.md")).Replace("\r\n", "\n", StringComparison.Ordinal);

    /// <summary>The package's MSBuild diagnostics: each &lt;Warning&gt; or &lt;Error&gt; with a BBCU code in its build targets.</summary>
    private static List<XElement> MsBuildDiagnostics() =>
        Directory.GetFiles(Repo.Path("src", "Package", "build"), "*.targets")
            .SelectMany(f => XDocument.Load(f).Descendants())
            .Where(e => e.Name.LocalName is "Warning" or "Error" && ((string?)e.Attribute("Code"))?.StartsWith("BBCU", StringComparison.Ordinal) == true)
            .ToList();

    /// <summary>The doc's "## BBCUxxx" sections: ID → the text up to the next "## " heading.</summary>
    private static List<(string Id, string Text)> Sections()
    {
        var sections = new List<(string, string)>();
        string[] parts = Regex.Split(Doc, @"^## ", RegexOptions.Multiline);
        foreach (string part in parts.Skip(1))
        {
            int newline = part.IndexOf('\n', StringComparison.Ordinal);
            string heading = part.Substring(0, newline).Trim();
            if (Regex.IsMatch(heading, @"^BBCU\d{3}\b")) sections.Add((heading, part.Substring(newline + 1)));
        }
        return sections;
    }

    /// <summary>The anchor GitHub gives a heading: lower case, punctuation but '-' and '_' dropped, spaces as '-'.</summary>
    internal static string GitHubAnchor(string heading)
    {
        var sb = new StringBuilder();
        foreach (char c in heading.Trim().ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_') sb.Append(c);
            else if (c == ' ') sb.Append('-');
        }
        return sb.ToString();
    }

    /// <summary>The anchors of a Markdown file's headings (outside code blocks) and of its &lt;a id&gt; tags.</summary>
    internal static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        bool code = false;
        foreach (string line in markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal)) code = !code;
            else if (!code && Regex.Match(line, @"^#{1,6} (.+)$") is { Success: true } m) anchors.Add(GitHubAnchor(m.Groups[1].Value));
        }
        foreach (Match m in Regex.Matches(markdown, @"<a (?:id|name)=""([^""]+)"""))
            anchors.Add(m.Groups[1].Value);
        return anchors;
    }

    /// <summary>Markdown text without its code spans' backticks (a title like "Weights of a `&lt;BbcuModel&gt;` item" needs them to show).</summary>
    private static string Plain(string markdown) => markdown.Replace("`", "", StringComparison.Ordinal);

    private static string Severity(DiagnosticSeverity s) => s switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        DiagnosticSeverity.Info => "info",
        _ => s.ToString().ToLowerInvariant(),
    };

    [Fact]
    public void TheProjectUrlComesFromDirectoryBuildProps()
    {
        Assert.StartsWith("https://", ProjectUrl, StringComparison.Ordinal);
        // The generator reads it from its own assembly, where Bbcu.Generator.csproj puts PackageProjectUrl.
        string? built = typeof(BbcuDiagnostics).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "BbcuProjectUrl")?.Value;
        Assert.Equal(ProjectUrl, built);
    }

    [Fact]
    public void EveryDescriptorLinksToItsSection()
    {
        HashSet<string> anchors = Anchors(Doc);
        foreach (DiagnosticDescriptor d in BbcuDiagnostics.All)
        {
            string expected = DocUrl + "#" + d.Id.ToLowerInvariant();
            Assert.Equal(expected, d.HelpLinkUri);
            Assert.Equal(expected, BbcuDiagnostics.HelpLink(d.Id));
            Assert.True(anchors.Contains(d.Id.ToLowerInvariant()), $"docs/diagnostics.md has no heading with the anchor #{d.Id.ToLowerInvariant()}");
        }
    }

    [Fact]
    public void EveryMsBuildWarningOfThePackageLinksToItsSection()
    {
        List<XElement> all = MsBuildDiagnostics();
        Assert.NotEmpty(all); // BBCU040
        HashSet<string> anchors = Anchors(Doc);
        foreach (XElement e in all)
        {
            string code = (string)e.Attribute("Code")!;
            Assert.Equal(DocUrl + "#" + code.ToLowerInvariant(), (string?)e.Attribute("HelpLink"));
            Assert.Contains(code.ToLowerInvariant(), anchors);
        }
    }

    [Fact]
    public void TheDocHasOneSectionPerIdAndNoOther()
    {
        var ids = BbcuDiagnostics.All.Select(d => d.Id).Concat(MsBuildDiagnostics().Select(e => (string)e.Attribute("Code")!))
            .OrderBy(i => i, StringComparer.Ordinal).ToList();
        var sections = Sections().Select(s => s.Id).ToList();
        Assert.Equal(sections.Distinct().Count(), sections.Count);
        Assert.Equal(ids, sections.OrderBy(i => i, StringComparer.Ordinal).ToList());
        // In order of ID, so that the page reads like the contents table.
        Assert.Equal(sections.OrderBy(i => i, StringComparer.Ordinal), sections);
    }

    [Fact]
    public void EachSectionGivesSeverityMessageCauseExampleAndFix()
    {
        var msbuild = MsBuildDiagnostics().ToDictionary(e => (string)e.Attribute("Code")!, StringComparer.Ordinal);
        foreach (var (id, text) in Sections())
        {
            DiagnosticDescriptor? descriptor = BbcuDiagnostics.All.SingleOrDefault(d => d.Id == id);
            string severity = descriptor is not null ? Severity(descriptor.DefaultSeverity) : msbuild[id].Name.LocalName.ToLowerInvariant();
            string firstLine = text.TrimStart('\n').Split('\n')[0];
            if (descriptor is not null)
                Assert.StartsWith($"**{descriptor.Title.ToString(CultureInfo.InvariantCulture)}** · {severity}", Plain(firstLine), StringComparison.Ordinal);
            else
                Assert.Matches($@"^\*\*[^*]+\*\* · {severity}", firstLine);

            int cause = text.IndexOf("**Cause.**", StringComparison.Ordinal), example = text.IndexOf("**Example.**", StringComparison.Ordinal),
                fix = text.IndexOf("**Fix.**", StringComparison.Ordinal);
            Assert.True(cause > 0 && example > cause && fix > example, $"{id}: the section needs **Cause.**, **Example.** and **Fix.**, in that order");

            // The messages, as the build prints them: each line of a text block "path(line,col): severity BBCUxxx: message".
            var messages = TextBlocks(text.Substring(0, cause)).SelectMany(b => b.Split('\n'))
                .Select(l => Regex.Match(l, @"^\S.*?: (error|warning|info) (BBCU\d{3}): (.+)$")).Where(m => m.Success).ToList();
            Assert.True(messages.Any(m => m.Groups[2].Value == id), $"{id}: the section shows no message of its own ID");
            foreach (Match m in messages)
            {
                string mid = m.Groups[2].Value, shown = m.Groups[3].Value;
                if (BbcuDiagnostics.All.SingleOrDefault(d => d.Id == mid) is { } d)
                {
                    Assert.Equal(Severity(d.DefaultSeverity), m.Groups[1].Value);
                    string pattern = "^" + Regex.Replace(Regex.Escape(d.MessageFormat.ToString(CultureInfo.InvariantCulture)), @"\\\{\d+}", "(.+)") + "$";
                    Assert.True(Regex.IsMatch(shown, pattern), $"{id}: the {mid} message shown does not have the descriptor's format:\n{shown}");
                }
                else
                {
                    Assert.Equal(msbuild[mid].Name.LocalName.ToLowerInvariant(), m.Groups[1].Value);
                    Assert.Equal((string)msbuild[mid].Attribute("Text")!, shown);
                }
            }
        }
    }

    private static IEnumerable<string> TextBlocks(string markdown) =>
        Regex.Matches(markdown, @"^```text\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline).Select(m => m.Groups[1].Value);

    [Fact]
    public void TheContentsTableListsEverySection()
    {
        var rows = Regex.Matches(Doc, @"^\| \[(BBCU\d{3})\]\(#(bbcu\d{3})\) \| (\w+) \| (.+?) \|$", RegexOptions.Multiline).ToList();
        Assert.Equal(Sections().Select(s => s.Id), rows.Select(r => r.Groups[1].Value));
        foreach (Match r in rows)
        {
            Assert.Equal(r.Groups[1].Value.ToLowerInvariant(), r.Groups[2].Value);
            if (BbcuDiagnostics.All.SingleOrDefault(d => d.Id == r.Groups[1].Value) is { } d)
            {
                Assert.Equal(Severity(d.DefaultSeverity), r.Groups[3].Value);
                Assert.Equal(d.Title.ToString(CultureInfo.InvariantCulture), Plain(r.Groups[4].Value));
            }
        }
    }

    [Fact]
    public void EveryLinkOfTheDocResolves()
    {
        string doc = Doc;
        HashSet<string> anchors = Anchors(doc);
        foreach (Match m in Regex.Matches(doc, @"\]\(([^)\s]+)\)"))
        {
            string link = m.Groups[1].Value;
            if (link.StartsWith("https://", StringComparison.Ordinal)) continue;
            string[] parts = link.Split('#', 2);
            if (parts[0].Length == 0)
            {
                Assert.True(anchors.Contains(parts[1]), $"docs/diagnostics.md links to #{parts[1]}, which no heading has");
                continue;
            }
            string target = Path.GetFullPath(Path.Combine(Repo.Path("docs"), parts[0]));
            Assert.True(File.Exists(target), $"docs/diagnostics.md links to {parts[0]}, which does not exist");
            if (parts.Length == 2)
                Assert.True(Anchors(File.ReadAllText(target)).Contains(parts[1]), $"docs/diagnostics.md links to {link}, whose anchor does not exist");
        }
    }

    [Fact]
    public void TheDocIsLinkedFromTheReadmeAndTheCompilerDoc()
    {
        Assert.Contains("](docs/diagnostics.md)", File.ReadAllText(Repo.Path("README.md")), StringComparison.Ordinal);
        Assert.Contains("](diagnostics.md)", File.ReadAllText(Repo.Path("docs", "compiler.md")), StringComparison.Ordinal);
    }
}
