using System.Globalization;
using System.Text;

namespace Bbcu.Generator.Emission;

/// <summary>Exact, culture-invariant C# literals for the constants the emitter writes.</summary>
internal static class Literals
{
    /// <summary>The shortest literal that round-trips to the same float.</summary>
    public static string Float(float f)
    {
        if (float.IsNaN(f)) return "float.NaN";
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        string s = f.ToString("R", CultureInfo.InvariantCulture);
        if (float.Parse(s, CultureInfo.InvariantCulture) != f)
            s = f.ToString("G9", CultureInfo.InvariantCulture);
        return s + "f";
    }

    public static string String(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    if (c < 0x20 || c > 0x7e) sb.Append("\\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Text safe inside a <c>///</c> XML comment line.</summary>
    public static string Comment(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            if (c == '<') sb.Append("&lt;");
            else if (c == '>') sb.Append("&gt;");
            else if (c == '&') sb.Append("&amp;");
            // C# ends a comment at CR, LF and also U+0085, U+2028, U+2029: a name from a model file must not
            // be able to end the comment and inject code (InjectionTests).
            else if (c < 0x20 || c == '\u0085' || c == '\u2028' || c == '\u2029') sb.Append(' ');
            else sb.Append(c);
        }
        return sb.ToString();
    }

    public static string Int(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static string Grouped(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
