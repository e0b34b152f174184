"""How text from a schema reaches generated source: one function per context.

Every name, value and description that a schema supplies goes through
exactly one of these before a template prints it, so no schema can break the
build of what is generated from it (codegen/tests/test_escape.py fuzzes them
through g++ -Werror, tsc and node).

  C++: cpp_identifier, cpp_string_literal, cpp_string_view, cpp_comment
  TS:  ts_identifier (type names), ts_property_name, ts_string_literal, ts_comment
"""

from __future__ import annotations

import json
import re

CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t
char16_t char32_t class compl concept const consteval constexpr constinit const_cast
continue co_await co_return co_yield decltype default delete do double dynamic_cast else
enum explicit export extern false float for friend goto if inline int long mutable
namespace new noexcept not not_eq nullptr operator or or_eq private protected public
register reinterpret_cast requires return short signed sizeof static static_assert
static_cast struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq
""".split())
TS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def snake_case(text: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    if not s:
        s = "value"
    if s[0].isdigit():
        s = "_" + s
    return s


def cpp_identifier(name: str, taken: set[str] | None = None) -> str:
    """A snake_case C++ identifier for any text: not a keyword, and not in
    `taken` (then `_2`, `_3`, ... is appended; the result is added to it)."""
    s = snake_case(name)
    if s in CPP_KEYWORDS:
        s += "_"
    if taken is not None:
        base, n = s, 2
        while s in taken:
            s = f"{base}_{n}"
            n += 1
        taken.add(s)
    return s


def pascal_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake_case(name).split("_") if part)


def ts_identifier(name: str) -> str:
    """A PascalCase TypeScript type name for any text (`_` first where it would start with a digit)."""
    s = pascal_case(name)
    return s if TS_IDENTIFIER.fullmatch(s) else "_" + s


def _utf8(text: str) -> bytes:
    # A lone surrogate (JSON "\ud800") has no UTF-8 form; callers refuse such
    # names and values first, and descriptions never get here (comments escape them).
    return text.encode("utf-8")


def cpp_string_literal(text: str) -> str:
    """A C++ narrow string literal holding `text` as UTF-8, byte for byte."""
    out = ['"']
    for b in _utf8(text):
        c = chr(b)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif 0x20 <= b < 0x7F and c != "?":
            out.append(c)
        else:
            # Octal escapes stop after three digits, so they never swallow the next char.
            out.append("\\%03o" % b)
    out.append('"')
    return "".join(out)


def cpp_string_view(text: str) -> str:
    """An expression convertible to std::string_view that keeps every byte,
    U+0000 included (a plain literal would stop at the first NUL)."""
    literal = cpp_string_literal(text)
    if "\0" not in text:
        return literal
    return f"std::string_view{{{literal}, {len(_utf8(text))}}}"


def _printable(text: str, line_terminators: str) -> str:
    """Whitespace runs (and line terminators) to one space, other control
    characters and lone surrogates as \\uXXXX."""
    out = []
    for c in text:
        cp = ord(c)
        if c.isspace() or c in line_terminators:
            out.append(" ")
        elif cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF:
            out.append("\\u%04x" % cp)
        else:
            out.append(c)
    return " ".join("".join(out).split())


def cpp_comment(text: str) -> str:
    """Text for one `//` comment line: one line, and never ending in a
    backslash (or `??/`), which would splice the next source line into it."""
    line = _printable(text, "\n\r\v\f")
    if line.endswith("\\") or line.endswith("??/"):
        line += "."
    return line


def ts_comment(text: str) -> str:
    """Text for one line of a /** ... */ comment: one line (U+2028 and U+2029
    end lines in JavaScript), and no `*/`."""
    return _printable(text, "\n\r\v\f\u2028\u2029").replace("*/", "*\\/")


def ts_string_literal(text: str) -> str:
    """A TypeScript string literal with exactly `text` (lone surrogates too)."""
    out = ['"']
    for c in text:
        cp = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF or cp in (0x2028, 0x2029):
            out.append("\\u%04x" % cp)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def ts_property_name(name: str) -> str:
    """A property name in an interface or object literal: bare when it can be."""
    return name if TS_IDENTIFIER.fullmatch(name) else ts_string_literal(name)


def ts_json(value) -> str:
    """A JSON value as TypeScript source (a literal of the same value)."""
    if isinstance(value, str):
        return ts_string_literal(value)
    if isinstance(value, list):
        return "[" + ", ".join(ts_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{ts_string_literal(k)}: {ts_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def json_text(value) -> str:
    """Compact JSON text of a value (for C++ string literals that are parsed at run time)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
