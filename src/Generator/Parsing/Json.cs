using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Bbcu.Generator.Parsing;

internal enum JsonKind { Object, Array, String, Number, True, False, Null }

/// <summary>A JSON value with its position in the source text, so that every diagnostic can point at it.</summary>
internal sealed class JsonNode
{
    public JsonNode(JsonKind kind, int start) { Kind = kind; Start = start; }

    public JsonKind Kind { get; }
    public int Start { get; }
    public int Length { get; set; }
    public string String { get; set; } = "";
    public double Number { get; set; }
    public List<JsonProperty> Properties { get; } = new();
    public List<JsonNode> Items { get; } = new();

    public JsonProperty? Property(string name)
    {
        foreach (JsonProperty p in Properties)
            if (p.Name == name) return p;
        return null;
    }

    public string KindName => Kind switch
    {
        JsonKind.Object => "an object",
        JsonKind.Array => "an array",
        JsonKind.String => "a string",
        JsonKind.Number => "a number",
        JsonKind.Null => "null",
        _ => "a boolean",
    };
}

internal sealed class JsonProperty
{
    public JsonProperty(string name, int nameStart, int nameLength, JsonNode value)
    {
        Name = name; NameStart = nameStart; NameLength = nameLength; Value = value;
    }

    public string Name { get; }
    public int NameStart { get; }
    public int NameLength { get; }
    public JsonNode Value { get; }
}

internal sealed class JsonParseException : Exception
{
    public JsonParseException(string message, int position) : base(message) => Position = position;

    public int Position { get; }
}

/// <summary>
/// A small strict JSON (RFC 8259) reader that keeps source positions. Limits: nesting depth
/// <see cref="MaxDepth"/>; duplicate keys in one object are an error (they are ambiguous).
/// </summary>
internal sealed class JsonReader
{
    public const int MaxDepth = 64;

    private readonly string _text;
    private int _pos;

    private JsonReader(string text) => _text = text;

    public static JsonNode Parse(string text)
    {
        var reader = new JsonReader(text);
        reader.SkipWhitespace();
        JsonNode root = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (reader._pos != text.Length)
            throw new JsonParseException("unexpected text after the end of the JSON value", reader._pos);
        return root;
    }

    /// <summary>Converts an offset into a 1-based line and column.</summary>
    public static (int Line, int Column) LineColumn(string text, int position)
    {
        int line = 1, col = 1;
        for (int i = 0; i < position && i < text.Length; i++)
        {
            if (text[i] == '\n') { line++; col = 1; }
            else col++;
        }
        return (line, col);
    }

    private void SkipWhitespace()
    {
        while (_pos < _text.Length && (_text[_pos] == ' ' || _text[_pos] == '\t' || _text[_pos] == '\n' || _text[_pos] == '\r'))
            _pos++;
    }

    private JsonNode ReadValue(int depth)
    {
        if (depth > MaxDepth)
            throw new JsonParseException($"nesting deeper than {MaxDepth} levels", _pos);
        if (_pos >= _text.Length)
            throw new JsonParseException("unexpected end of text; a value was expected", _pos);
        char c = _text[_pos];
        switch (c)
        {
            case '{': return ReadObject(depth);
            case '[': return ReadArray(depth);
            case '"':
            {
                var node = new JsonNode(JsonKind.String, _pos);
                node.String = ReadString();
                node.Length = _pos - node.Start;
                return node;
            }
            case 't': return ReadLiteral("true", JsonKind.True);
            case 'f': return ReadLiteral("false", JsonKind.False);
            case 'n': return ReadLiteral("null", JsonKind.Null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                throw new JsonParseException($"unexpected character '{Printable(c)}'; a value was expected", _pos);
        }
    }

    private JsonNode ReadObject(int depth)
    {
        var node = new JsonNode(JsonKind.Object, _pos);
        _pos++;
        SkipWhitespace();
        if (Peek() == '}') { _pos++; node.Length = _pos - node.Start; return node; }
        var names = new HashSet<string>(StringComparer.Ordinal); // linear in the number of properties
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"')
                throw new JsonParseException("a property name in double quotes was expected", _pos);
            int nameStart = _pos;
            string name = ReadString();
            int nameLength = _pos - nameStart;
            if (!names.Add(name))
                throw new JsonParseException($"duplicate property \"{name}\"", nameStart);
            SkipWhitespace();
            if (Peek() != ':')
                throw new JsonParseException("':' was expected after a property name", _pos);
            _pos++;
            SkipWhitespace();
            JsonNode value = ReadValue(depth + 1);
            node.Properties.Add(new JsonProperty(name, nameStart, nameLength, value));
            SkipWhitespace();
            char c = Peek();
            _pos++;
            if (c == ',') continue;
            if (c == '}') break;
            throw new JsonParseException("',' or '}' was expected", _pos - 1);
        }
        node.Length = _pos - node.Start;
        return node;
    }

    private JsonNode ReadArray(int depth)
    {
        var node = new JsonNode(JsonKind.Array, _pos);
        _pos++;
        SkipWhitespace();
        if (Peek() == ']') { _pos++; node.Length = _pos - node.Start; return node; }
        while (true)
        {
            SkipWhitespace();
            node.Items.Add(ReadValue(depth + 1));
            SkipWhitespace();
            char c = Peek();
            _pos++;
            if (c == ',') continue;
            if (c == ']') break;
            throw new JsonParseException("',' or ']' was expected", _pos - 1);
        }
        node.Length = _pos - node.Start;
        return node;
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private JsonNode ReadLiteral(string literal, JsonKind kind)
    {
        if (string.CompareOrdinal(_text, _pos, literal, 0, literal.Length) != 0)
            throw new JsonParseException($"unexpected token; did you mean {literal}?", _pos);
        var node = new JsonNode(kind, _pos) { Length = literal.Length };
        _pos += literal.Length;
        return node;
    }

    private JsonNode ReadNumber()
    {
        int start = _pos;
        if (Peek() == '-') _pos++;
        if (Peek() == '0') _pos++;
        else if (Peek() >= '1' && Peek() <= '9') while (char.IsDigit(Peek()) && Peek() < 128) _pos++;
        else throw new JsonParseException("a digit was expected", _pos);
        if (Peek() == '.')
        {
            _pos++;
            if (!(Peek() >= '0' && Peek() <= '9')) throw new JsonParseException("a digit was expected after '.'", _pos);
            while (Peek() >= '0' && Peek() <= '9') _pos++;
        }
        if (Peek() == 'e' || Peek() == 'E')
        {
            _pos++;
            if (Peek() == '+' || Peek() == '-') _pos++;
            if (!(Peek() >= '0' && Peek() <= '9')) throw new JsonParseException("a digit was expected in the exponent", _pos);
            while (Peek() >= '0' && Peek() <= '9') _pos++;
        }
        string raw = _text.Substring(start, _pos - start);
        // TryParse: .NET Framework hosts (Visual Studio) throw OverflowException from Parse for 1e400.
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || double.IsInfinity(value))
            throw new JsonParseException($"the number {(raw.Length <= 24 ? raw : raw.Substring(0, 20) + "…")} is out of range", start);
        return new JsonNode(JsonKind.Number, start) { Length = _pos - start, Number = value };
    }

    private string ReadString()
    {
        int start = _pos;
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length)
                throw new JsonParseException("unterminated string", start);
            char c = _text[_pos++];
            if (c == '"') return sb.ToString();
            if (c < 0x20)
                throw new JsonParseException("control character in a string (escape it)", _pos - 1);
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _text.Length)
                throw new JsonParseException("unterminated escape sequence", _pos - 1);
            char e = _text[_pos++];
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
                    if (_pos + 4 > _text.Length || !ushort.TryParse(_text.Substring(_pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort code))
                        throw new JsonParseException("\\u must be followed by four hex digits", _pos - 2);
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default:
                    throw new JsonParseException($"invalid escape sequence '\\{Printable(e)}'", _pos - 2);
            }
        }
    }

    private static string Printable(char c) => c < 0x20 || c > 0x7e ? $"U+{(int)c:X4}" : c.ToString();
}
