using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Bbcu.Generator.Parsing;

/// <summary>The kinds of JSON value, as serde's buffered <c>Content</c> classifies them.</summary>
internal enum HeaderKind { Null, Bool, UInt, NegInt, Float, String, Array, Object }

/// <summary>
/// One value of a safetensors header. Numbers keep their kind the way serde_json gives it: a plain
/// non-negative integer up to 2^64−1 is <see cref="HeaderKind.UInt"/>; a negative integer down to −2^63 is
/// <see cref="HeaderKind.NegInt"/>; anything else (a fraction, an exponent, −0, or an integer past those
/// ranges) is <see cref="HeaderKind.Float"/>. Objects keep every entry, repeated keys included.
/// </summary>
internal sealed class HeaderValue
{
    public HeaderKind Kind;
    public ulong UInt;
    public string Text = "";
    public List<HeaderValue>? Items;
    public List<KeyValuePair<string, HeaderValue>>? Entries;

    public string KindName => Kind switch
    {
        HeaderKind.Null => "null",
        HeaderKind.Bool => "a boolean",
        HeaderKind.UInt or HeaderKind.NegInt => $"the integer {Text}",
        HeaderKind.Float => $"the number {Text}",
        HeaderKind.String => "a string",
        HeaderKind.Array => "an array",
        _ => "an object",
    };
}

internal sealed class HeaderSyntaxException : Exception
{
    public HeaderSyntaxException(string message, int position) : base(message) => Position = position;

    public int Position { get; }
}

/// <summary>
/// Reads a safetensors header with exactly the JSON that the reference implementation (huggingface
/// safetensors, which parses with serde_json) accepts: only space, tab, LF and CR around tokens; no
/// trailing text; strings without raw control characters and without unpaired surrogate escapes;
/// numbers in the JSON grammar that fit a 64-bit float; at most 127 nested arrays and objects.
/// See docs/safetensors.md for each rule and the reference code that decides it.
/// </summary>
internal sealed class SafetensorsHeaderReader
{
    /// <summary>serde_json's recursion limit: 128, counting down on every '[' and '{', an error at 0.</summary>
    public const int MaxDepth = 127;

    private readonly string _s;
    private int _i;
    private int _depth;

    private SafetensorsHeaderReader(string s) => _s = s;

    public static HeaderValue Parse(string text)
    {
        var r = new SafetensorsHeaderReader(text);
        r.SkipWhitespace();
        HeaderValue v = r.ReadValue();
        r.SkipWhitespace();
        if (r._i < text.Length) throw r.Error("unexpected text after the end of the JSON value");
        return v;
    }

    private HeaderSyntaxException Error(string message) => new(message, _i);

    private void SkipWhitespace()
    {
        while (_i < _s.Length && _s[_i] is ' ' or '\t' or '\n' or '\r') _i++;
    }

    private HeaderValue ReadValue()
    {
        if (_i >= _s.Length) throw Error("the header ends where a value was expected");
        char c = _s[_i];
        switch (c)
        {
            case '{': return ReadObject();
            case '[': return ReadArray();
            case '"': return new HeaderValue { Kind = HeaderKind.String, Text = ReadString() };
            case 'n': Literal("null"); return new HeaderValue { Kind = HeaderKind.Null, Text = "null" };
            case 't': Literal("true"); return new HeaderValue { Kind = HeaderKind.Bool, Text = "true" };
            case 'f': Literal("false"); return new HeaderValue { Kind = HeaderKind.Bool, Text = "false" };
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                throw Error($"unexpected character '{Printable(c)}' where a value was expected");
        }
    }

    private void Literal(string word)
    {
        if (string.CompareOrdinal(_s, _i, word, 0, word.Length) != 0) throw Error($"expected '{word}'");
        _i += word.Length;
    }

    private void Enter()
    {
        if (++_depth > MaxDepth) throw Error($"arrays and objects nested more than {MaxDepth} deep");
        _i++;
    }

    private HeaderValue ReadObject()
    {
        Enter();
        var entries = new List<KeyValuePair<string, HeaderValue>>();
        SkipWhitespace();
        if (_i < _s.Length && _s[_i] == '}')
        {
            _i++;
            _depth--;
            return new HeaderValue { Kind = HeaderKind.Object, Entries = entries };
        }
        while (true)
        {
            SkipWhitespace();
            if (_i >= _s.Length || _s[_i] != '"') throw Error("a property name in double quotes was expected");
            string key = ReadString();
            SkipWhitespace();
            if (_i >= _s.Length || _s[_i] != ':') throw Error("':' was expected after a property name");
            _i++;
            SkipWhitespace();
            entries.Add(new KeyValuePair<string, HeaderValue>(key, ReadValue()));
            SkipWhitespace();
            if (_i < _s.Length && _s[_i] == ',') { _i++; continue; }
            if (_i < _s.Length && _s[_i] == '}') { _i++; break; }
            throw Error("',' or '}' was expected");
        }
        _depth--;
        return new HeaderValue { Kind = HeaderKind.Object, Entries = entries };
    }

    private HeaderValue ReadArray()
    {
        Enter();
        var items = new List<HeaderValue>();
        SkipWhitespace();
        if (_i < _s.Length && _s[_i] == ']')
        {
            _i++;
            _depth--;
            return new HeaderValue { Kind = HeaderKind.Array, Items = items };
        }
        while (true)
        {
            SkipWhitespace();
            items.Add(ReadValue());
            SkipWhitespace();
            if (_i < _s.Length && _s[_i] == ',') { _i++; continue; }
            if (_i < _s.Length && _s[_i] == ']') { _i++; break; }
            throw Error("',' or ']' was expected");
        }
        _depth--;
        return new HeaderValue { Kind = HeaderKind.Array, Items = items };
    }

    private string ReadString()
    {
        _i++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_i >= _s.Length) throw Error("the header ends inside a string");
            char c = _s[_i++];
            if (c == '"') return sb.ToString();
            if (c < 0x20) { _i--; throw Error("a control character inside a string (escape it)"); }
            if (c != '\\') { sb.Append(c); continue; }
            if (_i >= _s.Length) throw Error("the header ends inside an escape");
            char e = _s[_i++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                {
                    int code = Hex4();
                    if (code >= 0xDC00 && code <= 0xDFFF) throw Error("a \\u escape of a low surrogate without a high one before it");
                    if (code >= 0xD800 && code <= 0xDBFF)
                    {
                        if (_i + 1 >= _s.Length || _s[_i] != '\\' || _s[_i + 1] != 'u')
                            throw Error("a \\u escape of a high surrogate not followed by a \\u escape of a low one");
                        _i += 2;
                        int low = Hex4();
                        if (low < 0xDC00 || low > 0xDFFF)
                            throw Error("a \\u escape of a high surrogate not followed by a \\u escape of a low one");
                        sb.Append((char)code).Append((char)low);
                    }
                    else sb.Append((char)code);
                    break;
                }
                default:
                    _i--;
                    throw Error($"an invalid escape '\\{Printable(e)}'");
            }
        }
    }

    private int Hex4()
    {
        if (_i + 4 > _s.Length) throw Error("a \\u escape needs four hex digits");
        int v = 0;
        for (int k = 0; k < 4; k++)
        {
            char h = _s[_i++];
            int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (d < 0) { _i--; throw Error("a \\u escape needs four hex digits"); }
            v = v * 16 + d;
        }
        return v;
    }

    private HeaderValue ReadNumber()
    {
        int start = _i;
        bool negative = _s[_i] == '-';
        if (negative) _i++;
        if (_i >= _s.Length || _s[_i] < '0' || _s[_i] > '9') throw Error("a digit was expected in a number");
        if (_s[_i] == '0')
        {
            _i++;
            if (_i < _s.Length && _s[_i] >= '0' && _s[_i] <= '9') throw Error("a number with a leading zero");
        }
        else
            while (_i < _s.Length && _s[_i] >= '0' && _s[_i] <= '9') _i++;
        int integerEnd = _i;
        bool isFloat = false;
        if (_i < _s.Length && _s[_i] == '.')
        {
            isFloat = true;
            _i++;
            if (_i >= _s.Length || _s[_i] < '0' || _s[_i] > '9') throw Error("a digit was expected after the decimal point");
            while (_i < _s.Length && _s[_i] >= '0' && _s[_i] <= '9') _i++;
        }
        if (_i < _s.Length && (_s[_i] == 'e' || _s[_i] == 'E'))
        {
            isFloat = true;
            _i++;
            if (_i < _s.Length && (_s[_i] == '+' || _s[_i] == '-')) _i++;
            if (_i >= _s.Length || _s[_i] < '0' || _s[_i] > '9') throw Error("a digit was expected in the exponent");
            while (_i < _s.Length && _s[_i] >= '0' && _s[_i] <= '9') _i++;
        }
        string text = _s.Substring(start, _i - start);
        if (!isFloat)
        {
            string digits = _s.Substring(negative ? start + 1 : start, integerEnd - (negative ? start + 1 : start));
            if (ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong magnitude))
            {
                if (!negative) return new HeaderValue { Kind = HeaderKind.UInt, UInt = magnitude, Text = text };
                // serde_json: −0 and magnitudes past 2^63 become floats.
                if (magnitude != 0 && magnitude <= 1UL << 63) return new HeaderValue { Kind = HeaderKind.NegInt, Text = text };
            }
        }
        // A float, or an integer too long for 64 bits: serde_json rejects it when it overflows a double.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || double.IsInfinity(d))
        {
            _i = start;
            throw Error($"the number {Shorten(text)} is out of range");
        }
        return new HeaderValue { Kind = HeaderKind.Float, Text = text };
    }

    private static string Shorten(string s) => s.Length <= 24 ? s : s.Substring(0, 20) + "…";

    private static string Printable(char c) => c < 0x20 || c > 0x7e ? $"\\u{(int)c:X4}" : c.ToString();
}
