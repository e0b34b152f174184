"""ECMA-262 regular expressions (as JSON Schema's `pattern` means them) for C++ and Python.

JSON Schema says a `pattern` is an ECMA-262 regular expression, matched
unanchored against the string's code points; the generated TypeScript uses
`new RegExp(p, "u")`, which is exactly that. C++ has no such engine:
`std::wregex` speaks the ECMAScript grammar of 1999 (no `u` flag, no `\\cX`,
and `\\s`, `\\w`, `\\d`, `.` classify through the locale). So the generator
parses the pattern with the grammar of ECMA-262's `u` mode, refuses what it
cannot carry over faithfully, and writes it out again with every class spelled
as explicit code point ranges, which `std::wregex` over UTF-32 then matches
with ECMA-262's meaning. The same tree is written as a Python `re` pattern,
which the generator uses to decide whether a `default`, `enum` or `const`
value satisfies a `pattern`.

What is refused, and why:
  * lookbehind `(?<=` `(?<!`: std::regex has no lookbehind;
  * backreferences `\\1`, `\\k<name>`: std::regex fails a backreference to a
    group that did not take part in the match, where ECMA-262 matches the
    empty string, and there is no rewriting that fixes it;
  * Unicode property escapes `\\p{..}`: they need the Unicode character
    database, which neither std::regex nor this generator carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_CODE_POINT = 0x10FFFF

# ECMA-262 WhiteSpace and LineTerminator: what `\s` matches.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
               (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
DIGITS = [(0x30, 0x39)]
WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
LINE_TERMINATORS = [(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]
SYNTAX_CHARACTERS = set("^$\\.*+?()[]{}|")
CONTROL_ESCAPES = {"f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B}


class RegexError(Exception):
    """The pattern is not ECMA-262 (`u` mode), or uses what cannot be carried over."""


def normalize(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out, next_lo = [], 0
    for lo, hi in normalize(ranges):
        if lo > next_lo:
            out.append((next_lo, lo - 1))
        next_lo = hi + 1
    if next_lo <= MAX_CODE_POINT:
        out.append((next_lo, MAX_CODE_POINT))
    return out


# ----------------------------------------------------------------------------
# The tree: nodes are tuples, so that both writers are plain recursive functions.
#   ("alt", [seq, ...])         ("seq", [node, ...])
#   ("set", ranges)             a character or class, as code point ranges
#   ("group", node, capturing)  ("look", node, negative)
#   ("repeat", node, min, max or None, lazy)
#   ("bol",) ("eol",) ("wordb", negative)


@dataclass
class _Parser:
    src: str
    pos: int = 0
    groups: int = 0
    names: set = field(default_factory=set)

    def fail(self, why: str):
        raise RegexError(f"{why} at offset {self.pos}")

    def peek(self, n: int = 1) -> str:
        return self.src[self.pos:self.pos + n]

    def take(self) -> str:
        if self.pos >= len(self.src):
            self.fail("unexpected end of pattern")
        c = self.src[self.pos]
        self.pos += 1
        return c

    def parse(self):
        node = self.disjunction()
        if self.pos != len(self.src):
            self.fail(f"unmatched {self.src[self.pos]!r}")
        return node

    def disjunction(self):
        alts = [self.alternative()]
        while self.peek() == "|":
            self.pos += 1
            alts.append(self.alternative())
        return alts[0] if len(alts) == 1 else ("alt", alts)

    def alternative(self):
        terms = []
        while self.pos < len(self.src) and self.peek() not in ("|", ")"):
            terms.append(self.term())
        return ("seq", terms)

    def term(self):
        c = self.peek()
        if c == "^":
            self.pos += 1
            return ("bol",)
        if c == "$":
            self.pos += 1
            return ("eol",)
        if self.src.startswith("\\b", self.pos) or self.src.startswith("\\B", self.pos):
            self.pos += 2
            return ("wordb", self.src[self.pos - 1] == "B")
        if self.src.startswith("(?=", self.pos) or self.src.startswith("(?!", self.pos):
            negative = self.src[self.pos + 2] == "!"
            self.pos += 3
            inner = self.disjunction()
            self.close_group()
            # u mode: a lookahead takes no quantifier.
            if self.peek() in ("*", "+", "?", "{"):
                self.fail("a lookahead cannot be quantified")
            return ("look", inner, negative)
        if self.src.startswith("(?<=", self.pos) or self.src.startswith("(?<!", self.pos):
            self.fail("lookbehind is not supported (std::regex has none)")
        atom = self.atom()
        return self.quantified(atom)

    def close_group(self):
        if self.peek() != ")":
            self.fail("missing )")
        self.pos += 1

    def quantified(self, atom):
        c = self.peek()
        lo, hi = None, None
        if c == "*":
            lo, hi = 0, None
            self.pos += 1
        elif c == "+":
            lo, hi = 1, None
            self.pos += 1
        elif c == "?":
            lo, hi = 0, 1
            self.pos += 1
        elif c == "{":
            start = self.pos
            self.pos += 1
            lo = self.number()
            if lo is None:
                self.pos = start
                self.fail("a lone { is not allowed in u mode")
            hi = lo
            if self.peek() == ",":
                self.pos += 1
                hi = self.number()
            if self.peek() != "}":
                self.pos = start
                self.fail("a lone { is not allowed in u mode")
            self.pos += 1
            if hi is not None and hi < lo:
                self.fail("numbers out of order in {} quantifier")
        else:
            return atom
        lazy = False
        if self.peek() == "?":
            lazy = True
            self.pos += 1
        return ("repeat", atom, lo, hi, lazy)

    def number(self):
        start = self.pos
        while self.peek().isdigit() and self.peek().isascii():
            self.pos += 1
        return int(self.src[start:self.pos]) if self.pos > start else None

    def atom(self):
        c = self.take()
        if c == ".":
            return ("set", complement(LINE_TERMINATORS))
        if c == "(":
            if self.src.startswith("?:", self.pos):
                self.pos += 2
                inner = self.disjunction()
                self.close_group()
                return ("group", inner, False)
            if self.src.startswith("?<", self.pos):
                self.pos += 2
                name = ""
                while self.peek() not in (">", ""):
                    name += self.take()
                if not name or not (name[0].isalpha() or name[0] in "_$") or \
                        not all(ch.isalnum() or ch in "_$" for ch in name):
                    self.fail("invalid group name")
                if name in self.names:
                    self.fail(f"duplicate group name {name!r}")
                self.names.add(name)
                self.pos += 1
            elif self.peek() == "?":
                self.fail("invalid group")
            self.groups += 1
            inner = self.disjunction()
            self.close_group()
            return ("group", inner, True)
        if c == "[":
            return ("set", self.char_class())
        if c == "\\":
            return self.atom_escape()
        if c in ")]{}|" or c in "*+?":
            self.pos -= 1
            self.fail(f"{c!r} has nothing to apply to" if c in "*+?" else f"a lone {c!r} is not allowed in u mode")
        return ("set", [(ord(c), ord(c))])

    def atom_escape(self):
        c = self.peek()
        if c.isdigit() and c != "0":
            self.fail("backreferences are not supported (std::regex does not match one to a group that did not "
                      "take part as ECMA-262 does)")
        if c == "k":
            self.fail("backreferences are not supported")
        cls = self.class_escape()
        if cls is not None:
            return ("set", cls)
        cp = self.character_escape()
        return ("set", [(cp, cp)])

    def class_escape(self):
        """\\d \\D \\s \\S \\w \\W as ranges, or None (position unchanged)."""
        c = self.peek()
        table = {"d": DIGITS, "s": WHITE_SPACE, "w": WORD}
        if c.lower() in table:
            self.pos += 1
            ranges = normalize(table[c.lower()])
            return complement(ranges) if c.isupper() else ranges
        if c in ("p", "P"):
            self.fail("Unicode property escapes (\\p{...}) are not supported; spell the ranges out")
        return None

    def character_escape(self) -> int:
        c = self.take()
        if c in CONTROL_ESCAPES:
            return CONTROL_ESCAPES[c]
        if c == "c":
            letter = self.peek()
            if not (letter.isascii() and letter.isalpha()):
                self.fail("\\c must be followed by a letter")
            self.pos += 1
            return ord(letter) % 32
        if c == "0":
            if self.peek().isdigit():
                self.fail("\\0 followed by a digit is not allowed in u mode")
            return 0
        if c == "x":
            return self.hex_digits(2)
        if c == "u":
            if self.peek() == "{":
                self.pos += 1
                start = self.pos
                while self.peek() not in ("}", ""):
                    self.pos += 1
                digits = self.src[start:self.pos]
                if self.peek() != "}" or not digits or not all(d in "0123456789abcdefABCDEF" for d in digits) \
                        or int(digits, 16) > MAX_CODE_POINT:
                    self.fail("invalid \\u{...} escape")
                self.pos += 1
                return int(digits, 16)
            cp = self.hex_digits(4)
            # u mode: an escaped surrogate pair is one code point.
            if 0xD800 <= cp <= 0xDBFF and self.src.startswith("\\u", self.pos):
                save = self.pos
                self.pos += 2
                try:
                    low = self.hex_digits(4)
                except RegexError:
                    low = None
                if low is not None and 0xDC00 <= low <= 0xDFFF:
                    return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                self.pos = save
            return cp
        if c in SYNTAX_CHARACTERS or c == "/":
            return ord(c)
        self.pos -= 1
        self.fail(f"invalid escape \\{c} in u mode")

    def hex_digits(self, n: int) -> int:
        digits = self.src[self.pos:self.pos + n]
        if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
            self.fail("invalid hexadecimal escape")
        self.pos += n
        return int(digits, 16)

    def char_class(self):
        negate = False
        if self.peek() == "^":
            negate = True
            self.pos += 1
        ranges: list[tuple[int, int]] = []
        while True:
            if self.pos >= len(self.src):
                self.fail("missing ]")
            if self.peek() == "]":
                self.pos += 1
                break
            lo_set, lo = self.class_atom()
            if self.peek() == "-" and self.src[self.pos + 1:self.pos + 2] not in ("]", ""):
                self.pos += 1
                hi_set, hi = self.class_atom()
                if lo_set is not None or hi_set is not None:
                    self.fail("a class escape cannot bound a range in u mode")
                if hi < lo:
                    self.fail("range out of order in character class")
                ranges.append((lo, hi))
            elif lo_set is not None:
                ranges.extend(lo_set)
            else:
                ranges.append((lo, lo))
        ranges = normalize(ranges)
        return complement(ranges) if negate else ranges

    def class_atom(self):
        """(ranges, None) for a class escape, or (None, code point)."""
        c = self.take()
        if c != "\\":
            return None, ord(c)
        cls = self.class_escape()
        if cls is not None:
            return cls, None
        if self.peek() == "b":
            self.pos += 1
            return None, 0x08
        if self.peek() == "-":
            self.pos += 1
            return None, ord("-")
        if self.peek().isdigit() and self.peek() != "0":
            self.fail("a decimal escape is not allowed in a class in u mode")
        return None, self.character_escape()


def parse(pattern: str):
    """The tree of an ECMA-262 `u`-mode pattern; raises RegexError."""
    return _Parser(pattern).parse()


# ----------------------------------------------------------------------------
# Writers


def _std_char(cp: int, in_class: bool) -> str:
    c = chr(cp)
    special = "\\]^-[" if in_class else "^$\\.*+?()[]{}|/"
    if c in special:
        return "\\" + c
    if 0x20 <= cp < 0x7F:
        return c
    if cp <= 0xFFFF:
        return "\\u%04X" % cp
    # Astral code points: std::wregex reads them as one wchar_t each.
    return c


def _std_set(ranges) -> str:
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _std_char(ranges[0][0], False)
    if not ranges:
        # Matches nothing.
        return "[^\\u0000-" + chr(MAX_CODE_POINT) + "]"
    parts = []
    for lo, hi in ranges:
        parts.append(_std_char(lo, True) if lo == hi else _std_char(lo, True) + "-" + _std_char(hi, True))
    return "[" + "".join(parts) + "]"


def to_std_regex(node) -> str:
    """The pattern for std::wregex (ECMAScript grammar) over UTF-32."""
    kind = node[0]
    if kind == "alt":
        return "|".join(to_std_regex(a) for a in node[1])
    if kind == "seq":
        return "".join(to_std_regex(n) for n in node[1])
    if kind == "set":
        return _std_set(node[1])
    if kind == "group":
        return ("(" if node[2] else "(?:") + to_std_regex(node[1]) + ")"
    if kind == "look":
        return ("(?!" if node[2] else "(?=") + to_std_regex(node[1]) + ")"
    if kind == "repeat":
        return _atom(to_std_regex(node[1]), node[1]) + _quantifier(node)
    if kind == "bol":
        return "^"
    if kind == "eol":
        return "$"
    if kind == "wordb":
        return "\\B" if node[1] else "\\b"
    raise AssertionError(kind)


def _atom(text: str, node) -> str:
    return text if node[0] in ("set", "group") else "(?:" + text + ")"


def _quantifier(node) -> str:
    _, _, lo, hi, lazy = node
    if (lo, hi) == (0, None):
        q = "*"
    elif (lo, hi) == (1, None):
        q = "+"
    elif (lo, hi) == (0, 1):
        q = "?"
    elif hi == lo:
        q = "{%d}" % lo
    else:
        q = "{%d,%s}" % (lo, "" if hi is None else hi)
    return q + ("?" if lazy else "")


def _py_char(cp: int, in_class: bool) -> str:
    if 0x30 <= cp <= 0x39 or 0x41 <= cp <= 0x5A or 0x61 <= cp <= 0x7A:
        return chr(cp)
    return "\\U%08x" % cp


def to_python(node) -> str:
    """The pattern for Python's re (compile with re.ASCII) with ECMA-262's meaning."""
    kind = node[0]
    if kind == "alt":
        return "|".join(to_python(a) for a in node[1])
    if kind == "seq":
        return "".join(to_python(n) for n in node[1])
    if kind == "set":
        ranges = node[1]
        if not ranges:
            return "(?!)"
        return "[" + "".join(_py_char(lo, True) if lo == hi else _py_char(lo, True) + "-" + _py_char(hi, True)
                             for lo, hi in ranges) + "]"
    if kind == "group":
        return ("(" if node[2] else "(?:") + to_python(node[1]) + ")"
    if kind == "look":
        return ("(?!" if node[2] else "(?=") + to_python(node[1]) + ")"
    if kind == "repeat":
        inner = to_python(node[1])
        return (inner if node[1][0] in ("set", "group") else "(?:" + inner + ")") + _quantifier(node)
    if kind == "bol":
        return "\\A"
    if kind == "eol":
        return "\\Z"
    if kind == "wordb":
        return "\\B" if node[1] else "\\b"
    raise AssertionError(kind)


def search(pattern: str, text: str) -> bool:
    """ECMA-262 `RegExp(pattern, "u").test(text)`, for the generator's own checks."""
    import re
    return re.search(to_python(parse(pattern)), text, re.ASCII) is not None
