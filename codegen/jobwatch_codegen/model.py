"""Loads schemas, checks them against the supported subset, and builds the view model.

Python decides everything here (names, types, rules, order); the Jinja2
templates only loop over the result and print it.
"""

from __future__ import annotations

import json
import keyword
import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

# Keywords that only annotate: accepted and ignored by validation.
ANNOTATIONS = {
    "$schema", "$id", "$defs", "$comment", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly",
}
# Every keyword that changes what is valid and that the generator implements.
ASSERTIONS = {
    "type", "properties", "required", "additionalProperties", "items", "enum",
    "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "minItems", "maxItems", "$ref", "format",
    "pattern", "oneOf", "anyOf",
}
KEYWORDS_BY_TYPE = {
    "string": {"minLength", "maxLength", "pattern", "format"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "array": {"items", "minItems", "maxItems"},
    "object": {"properties", "required", "additionalProperties"},
    "boolean": set(),
}
CPP_KEYWORDS = set("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t
char16_t char32_t class compl concept const consteval constexpr constinit const_cast
continue co_await co_return co_yield decltype default delete do double dynamic_cast else
enum explicit export extern false float for friend goto if inline int long mutable
namespace new noexcept not not_eq nullptr operator or or_eq private protected public
register reinterpret_cast requires return short signed sizeof static static_assert
static_cast struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq
""".split())
TS_RESERVED = set(keyword.kwlist) | {"delete", "default", "function", "var", "let", "new"}


class SchemaError(Exception):
    """A schema uses something the generator does not support, or is malformed."""

    def __init__(self, file: str, pointer: str, message: str):
        # The root's JSON Pointer is "", shown as (root) so the message stays readable.
        super().__init__(f"{file}: {pointer or '(root)'}: {message}")


def _reject_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def snake_case(text: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    if not s:
        s = "value"
    if s[0].isdigit():
        s = "_" + s
    return s


def cpp_identifier(name: str) -> str:
    s = snake_case(name)
    return s + "_" if s in CPP_KEYWORDS else s


def pascal_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake_case(name).split("_") if part)


def cpp_string_literal(text: str) -> str:
    """A C++ narrow string literal holding `text` as UTF-8, byte for byte."""
    out = ['"']
    for b in text.encode("utf-8"):
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


def cpp_double_literal(x: float | int) -> str:
    text = repr(float(x))
    if "e" not in text and "." not in text and "inf" not in text:
        text += ".0"
    return text


def finite_double(v) -> bool:
    """True for a JSON number (not a boolean) that a double holds as a finite value."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond the range of a double
        return False


def ts_object_literal(parts: list[str]) -> str:
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def simple_class_pattern(pattern: str):
    """Recognizes `^[class]{m,n}$` (optionally `$(?!\\n)`) over ASCII characters.

    Such patterns are most of what schemas use for ids and names; they are
    checked with a table instead of a regex engine. Returns (ranges, min, max)
    with max None for unbounded, or None when the pattern has another form.
    """
    m = re.fullmatch(r"\^\[([^\]\\^]|\\.)((?:[^\]\\]|\\.)*)\]((?:\+|\*|\{\d+(?:,\d*)?\}))\$(?:\(\?!\\n\))?", pattern)
    if not m:
        return None
    body = m.group(1) + m.group(2)
    # Items: plain characters (str), escaped characters ("\\", c) and class escapes (ranges).
    items: list = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body):
                return None
            e = body[i + 1]
            if e == "d":
                items.append([(48, 57)])
            elif e == "w":
                items.append([(97, 122), (65, 90), (48, 57), (95, 95)])
            elif e in ".-\\]/[^$*+?(){}|":
                items.append(("\\", e))
            else:
                return None
            i += 2
        else:
            items.append(c)
            i += 1
    chars: list[tuple[int, int]] = []
    j = 0
    while j < len(items):
        it = items[j]
        is_range = j + 2 < len(items) and items[j + 1] == "-"
        if is_range:
            lo_item, hi_item = it, items[j + 2]
            # Ranges with escaped or class endpoints: leave them to the regex engine.
            if not isinstance(lo_item, str) or not isinstance(hi_item, str):
                return None
            lo, hi = ord(lo_item), ord(hi_item)
            if lo > hi:
                return None
            chars.append((lo, hi))
            j += 3
        elif isinstance(it, list):
            chars.extend(it)
            j += 1
        else:
            ch = it[1] if isinstance(it, tuple) else it
            chars.append((ord(ch), ord(ch)))
            j += 1
    if any(hi > 0x7E or lo < 0x20 for lo, hi in chars):
        return None
    q = m.group(3)
    if q == "+":
        return chars, 1, None
    if q == "*":
        return chars, 0, None
    lo_s, _, hi_s = q[1:-1].partition(",")
    lo_n = int(lo_s)
    if "," not in q:
        return chars, lo_n, lo_n
    return chars, lo_n, (int(hi_s) if hi_s else None)


def non_ecma_syntax(pattern: str) -> str | None:
    """The first piece of `pattern` that Python's `re` accepts but that ECMA-262
    reads differently, or that std::regex cannot compile: `(?P<..>`, `(?<=`,
    inline flags, `\\A`, `\\Z`, possessive quantifiers, `{,n}`, a leading `]` in
    a class. None when there is none (re.compile has already checked the rest).
    """
    i, in_class = 0, False
    while i < len(pattern):
        c, nxt = pattern[i], pattern[i + 1:i + 2]
        if c == "\\":
            if not in_class and nxt in ("A", "Z", "z"):
                return pattern[i:i + 2]
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            j = i + 1 + (nxt == "^")
            if pattern[j:j + 1] == "]":
                return pattern[i:j + 1]
            i = j
            continue
        elif c == "(" and nxt == "?" and pattern[i + 2:i + 3] not in (":", "=", "!"):
            return pattern[i:i + 3]
        elif (c in "*+?}" and nxt == "+") or (c == "{" and nxt == ","):
            return pattern[i:i + 2]
        i += 1
    return None


# ----------------------------------------------------------------------------
# View model


@dataclass
class Shape:
    """What one value looks like: drives reading, writing and the C++/TS type."""

    kind: str  # string integer number boolean any any_object const named array map nullable
    cpp_type: str = ""
    ts_type: str = ""
    # string
    min_length: int = 0
    max_length: int | None = None
    date_time: bool = False
    pattern: str | None = None
    pattern_fn: str | None = None  # C++ function returning the compiled regex
    # numbers
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    # const
    const: str | None = None
    # arrays, maps, nullable
    item: "Shape | None" = None
    min_items: int = 0
    max_items: int | None = None
    # named
    decl: "Decl | None" = None
    # The alias this shape was copied from (see Builder.named), so TypeScript
    # can name the alias and call its reader instead of repeating its rules.
    alias: "Decl | None" = field(default=None, compare=False, repr=False)

    # Rules are spelled out member by member (no designated-initializer gaps,
    # which -Wmissing-field-initializers would flag in users' builds).
    @property
    def cpp_string_rules(self) -> str:
        max_len = "std::numeric_limits<std::size_t>::max()" if self.max_length is None else str(self.max_length)
        pattern = f"&codegen_detail::{self.pattern_fn}" if self.pattern is not None else "nullptr"
        text = cpp_string_literal(self.pattern) if self.pattern is not None else "nullptr"
        return (f"::jobwatch::detail::string_rules{{{self.min_length}, {max_len}, "
                f"{'true' if self.date_time else 'false'}, {pattern}, {text}}}")

    @property
    def cpp_number_rules(self) -> str:
        parts = []
        for name in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum"):
            value = getattr(self, name)
            parts.append("std::nullopt" if value is None else cpp_double_literal(value))
        return "::jobwatch::detail::number_rules{" + ", ".join(parts) + "}"

    @property
    def cpp_array_rules(self) -> str:
        max_items = "std::numeric_limits<std::size_t>::max()" if self.max_items is None else str(self.max_items)
        return f"::jobwatch::detail::array_rules{{{self.min_items}, {max_items}}}"

    # TypeScript rules: object literals for codec.ts, with only the members that apply.
    @property
    def ts_string_rules(self) -> str:
        parts = []
        if self.min_length:
            parts.append(f"minLength: {self.min_length}")
        if self.max_length is not None:
            parts.append(f"maxLength: {self.max_length}")
        if self.date_time:
            parts.append("dateTime: true")
        if self.pattern is not None:
            parts.append(f"pattern: {self.pattern_fn}")
        return ts_object_literal(parts)

    @property
    def ts_number_rules(self) -> str:
        parts = []
        for name, ts in (("minimum", "minimum"), ("maximum", "maximum"),
                         ("exclusive_minimum", "exclusiveMinimum"), ("exclusive_maximum", "exclusiveMaximum")):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{ts}: {json.dumps(value)}")
        return ts_object_literal(parts)

    @property
    def ts_array_rules(self) -> str:
        parts = []
        if self.min_items:
            parts.append(f"minItems: {self.min_items}")
        if self.max_items is not None:
            parts.append(f"maxItems: {self.max_items}")
        return ts_object_literal(parts)


@dataclass
class Field:
    name: str  # on the wire
    cpp_name: str
    ts_name: str
    shape: Shape
    required: bool
    description: str
    cpp_default: str | None = None  # default member initializer
    has_default: bool = False
    # How the key is written: "" (first and always present), "," or "?" (a
    # runtime flag decides, because only optional fields came before).
    separator: str = ","
    bit: int = 0

    @property
    def is_const(self) -> bool:
        return self.shape.kind == "const"

    @property
    def is_optional(self) -> bool:
        """Held in std::optional: not required and no default."""
        return not self.required and not self.has_default and not self.is_const

    @property
    def cpp_member_type(self) -> str:
        return f"std::optional<{self.shape.cpp_type}>" if self.is_optional else self.shape.cpp_type

    @property
    def key_bytes(self) -> int:
        return len(self.name.encode("utf-8"))

    @property
    def cpp_key_literal(self) -> str:
        return cpp_string_literal(self.name)

    @property
    def cpp_key_json(self) -> str:
        """The key as written, with the separator when it is static: `,"job_id":`."""
        sep = self.separator if self.separator in ("", ",") else ""
        return cpp_string_literal(sep + json.dumps(self.name, ensure_ascii=False) + ":")

    @property
    def ts_optional(self) -> bool:
        return not self.required and not self.is_const


@dataclass
class Decl:
    """A named type: struct, enum, variant or alias."""

    kind: str  # struct enum variant alias
    name: str
    ts_name: str
    file: "SchemaFile"
    pointer: str
    description: str = ""
    # struct
    fields: list[Field] = field(default_factory=list)
    forbid_additional: bool = False
    dynamic_separator: bool = False
    # enum
    values: list[tuple[str, str]] = field(default_factory=list)  # (cpp enumerator, wire value)
    # variant
    discriminator: str = ""
    alternatives: list[tuple[str, "Decl"]] = field(default_factory=list)
    # alias
    shape: Shape | None = None
    deps: list["Decl"] = field(default_factory=list)

    @property
    def required_fields(self) -> list[Field]:
        return [f for f in self.fields if f.required]

    @property
    def required_mask(self) -> str:
        mask = 0
        for f in self.required_fields:
            mask |= 1 << f.bit
        return f"{mask:#x}u"

    @property
    def fields_by_key_length(self) -> list[tuple[int, list[Field]]]:
        groups: dict[int, list[Field]] = {}
        for f in self.fields:
            groups.setdefault(f.key_bytes, []).append(f)
        return sorted(groups.items())

    @property
    def enum_choices(self) -> str:
        return ", ".join(json.dumps(v, ensure_ascii=False) for _, v in self.values)

    @property
    def cpp_const_discriminators(self) -> list[str]:
        return [v for v, _ in self.alternatives]

    # TypeScript: exported names, and texts of unions and messages.
    @property
    def ts_read_fn(self) -> str:
        return "read" + self.ts_name

    @property
    def ts_parse_fn(self) -> str:
        return "parse" + self.ts_name

    @property
    def ts_validate_fn(self) -> str:
        return "validate" + self.ts_name

    @property
    def ts_values_const(self) -> str:
        """The exported array of an enum's values, e.g. `logLevelValues`."""
        return self.ts_name[:1].lower() + self.ts_name[1:] + "Values"

    @property
    def ts_exports(self) -> list[str]:
        """Every name the TypeScript module exports for this declaration."""
        names = [self.ts_name, self.ts_read_fn, self.ts_parse_fn, self.ts_validate_fn]
        if self.kind == "enum":
            names.append(self.ts_values_const)
        return names

    @property
    def ts_enum_union(self) -> str:
        return " | ".join(json.dumps(v, ensure_ascii=False) for _, v in self.values)

    @property
    def ts_variant_choices(self) -> str:
        return ", ".join(json.dumps(tag, ensure_ascii=False) for tag, _ in self.alternatives)


@dataclass
class Pattern:
    """One `pattern`, checked by a generated function `fn(std::string_view)`."""

    fn: str
    text: str
    ranges: list[tuple[int, int]] | None = None  # set: the table fast path applies
    min_count: int = 0
    max_count: int | None = None

    @property
    def cpp_literal(self) -> str:
        return cpp_string_literal(self.text)

    @property
    def cpp_ranges(self) -> str:
        return ", ".join(f"{{{lo}, {hi}}}" for lo, hi in self.ranges)

    @property
    def cpp_max_count(self) -> str:
        return "std::numeric_limits<std::size_t>::max()" if self.max_count is None else str(self.max_count)


@dataclass
class SchemaFile:
    path: pathlib.Path
    stem: str
    document: Any
    root_name: str = ""
    decls: list[Decl] = field(default_factory=list)  # in definition order
    includes: list[str] = field(default_factory=list)  # stems of other generated headers
    patterns: list["Pattern"] = field(default_factory=list)

    @property
    def display(self) -> str:
        return self.path.name

    @property
    def field_docs(self) -> list[tuple[str, str]]:
        """(JSON Pointer, description) of every property reachable from the root
        through nested objects (not through arrays or maps), in schema order:
        what a settings listing such as `--help` needs."""
        root = next((d for d in self.decls if d.name == self.root_name), None)
        out: list[tuple[str, str]] = []

        def walk(decl, prefix, seen):
            if decl is None or decl.kind != "struct" or id(decl) in seen:
                return
            for f in decl.fields:
                pointer = prefix + "/" + f.name.replace("~", "~0").replace("/", "~1")
                out.append((pointer, " ".join(f.description.split())))
                if f.shape.kind == "named":
                    walk(f.shape.decl, pointer, seen | {id(decl)})

        walk(root, "", frozenset())
        return out

    def _ts_walk(self, visit_ref) -> None:
        """Calls visit_ref(decl) for each named type or alias that this file's
        declarations refer to by name, and visit_ref(shape) for each other
        shape that holds a pattern."""

        def walk(s: Shape):
            if s.alias is not None:
                visit_ref(s.alias)
            elif s.kind == "named":
                visit_ref(s.decl)
            else:
                if s.pattern is not None:
                    visit_ref(s)
                if s.item is not None:
                    walk(s.item)

        for d in self.decls:
            if d.kind == "struct":
                for f in d.fields:
                    walk(f.shape)
            elif d.kind == "alias":
                walk(d.shape)
            elif d.kind == "variant":
                for _, alt in d.alternatives:
                    visit_ref(alt)

    @property
    def ts_patterns(self) -> list[tuple[str, str]]:
        """(constant name, ECMA-262 source) of each pattern this module checks itself."""
        raw: dict[str, str] = {}

        def visit(x):
            if isinstance(x, Shape):
                raw.setdefault(x.pattern_fn, x.pattern)

        self._ts_walk(visit)
        return list(raw.items())

    @property
    def ts_imports(self) -> list[tuple[str, list[str], list[str]]]:
        """(stem, type names, reader names) imported from each other module."""
        by_stem: dict[str, tuple[set[str], set[str]]] = {}

        def visit(x):
            if isinstance(x, Decl) and x.file is not self:
                types, readers = by_stem.setdefault(x.file.stem, (set(), set()))
                types.add(x.ts_name)
                readers.add(x.ts_read_fn)

        self._ts_walk(visit)
        return [(stem, sorted(by_stem[stem][0]), sorted(by_stem[stem][1])) for stem in sorted(by_stem)]


# ----------------------------------------------------------------------------
# Building


class Builder:
    def __init__(self, paths: list[pathlib.Path], namespace: str = "jobwatch"):
        # Member types are spelled fully qualified: a member may share its type's name.
        self.qualifier = "::" + namespace.strip(":") + "::"
        self.files: dict[str, SchemaFile] = {}
        self.by_id: dict[str, SchemaFile] = {}
        for p in paths:
            try:
                doc = json.loads(p.read_text(encoding="utf-8"), object_pairs_hook=_reject_duplicates)
            except (ValueError, UnicodeDecodeError) as e:
                raise SchemaError(p.name, "", f"not valid JSON: {e}") from None
            if not p.name.endswith(".schema.json"):
                raise SchemaError(p.name, "", "schema files must be named <stem>.schema.json")
            stem = p.name[: -len(".schema.json")]
            sf = SchemaFile(path=p, stem=stem, document=doc)
            if p.name in self.files:
                raise SchemaError(p.name, "", "given twice")
            self.files[p.name] = sf
            if isinstance(doc, dict) and isinstance(doc.get("$id"), str):
                self.by_id[doc["$id"]] = sf
        self.decl_at: dict[tuple[str, str], Decl] = {}
        self.names: dict[str, Decl] = {}
        self.building: set[tuple[str, str]] = set()

    # -- helpers -------------------------------------------------------------

    def fail(self, sf: SchemaFile, pointer: str, message: str):
        raise SchemaError(sf.display, pointer, message)

    @staticmethod
    def node_at(doc: Any, pointer: str):
        node = doc
        if pointer in ("", "#"):
            return node
        for raw in pointer.lstrip("#").lstrip("/").split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            node = node[part] if isinstance(node, dict) else node[int(part)]
        return node

    def register(self, decl: Decl):
        other = self.names.get(decl.name)
        if other is not None:
            self.fail(decl.file, decl.pointer,
                      f"type name {decl.name!r} is already used by {other.file.display}: {other.pointer or '(root)'}")
        self.names[decl.name] = decl
        decl.file.decls.append(decl)

    def resolve_ref(self, sf: SchemaFile, pointer: str, ref: str) -> tuple[SchemaFile, str]:
        target_file, _, fragment = ref.partition("#")
        if target_file:
            base = sf.document.get("$id", "") if isinstance(sf.document, dict) else ""
            # An absolute URI names the input whose $id it is, never a file that merely shares its last segment.
            absolute = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target_file) is not None
            candidates = [target_file] if absolute else [target_file, target_file.rsplit("/", 1)[-1]]
            if base and "/" in base and not absolute:
                candidates.insert(0, base.rsplit("/", 1)[0] + "/" + target_file)
            tf = None
            for c in candidates:
                tf = self.by_id.get(c) or self.files.get(c)
                if tf:
                    break
            if tf is None:
                self.fail(sf, pointer, f"$ref {ref!r}: the referenced schema is not among the inputs"
                          + (" (remote references must equal the $id of an input)" if absolute else ""))
        else:
            tf = sf
        if fragment and not fragment.startswith("/$defs/"):
            self.fail(sf, pointer, f"$ref {ref!r}: only references to $defs entries or whole schema files are supported")
        if fragment.count("/") != 2 and fragment:
            self.fail(sf, pointer, f"$ref {ref!r}: only top-level $defs entries can be referenced")
        try:
            self.node_at(tf.document, fragment)
        except (KeyError, IndexError, ValueError, TypeError):
            self.fail(sf, pointer, f"$ref {ref!r} does not resolve")
        if tf is not sf and tf.stem not in sf.includes:
            sf.includes.append(tf.stem)
        return tf, fragment

    def decl_for(self, sf: SchemaFile, pointer: str) -> Decl:
        """The declaration of the schema at a root or `$defs` pointer, built once."""
        key = (sf.display, pointer)
        if key in self.decl_at:
            return self.decl_at[key]
        if key in self.building:
            self.fail(sf, pointer, "recursive types are not supported")
        self.building.add(key)
        node = self.node_at(sf.document, pointer)
        if pointer:
            name = cpp_identifier(pointer.rsplit("/", 1)[1])
        else:
            title = node.get("title", sf.stem)
            if not isinstance(title, str):
                self.fail(sf, "/title", "title must be a string")
            name = cpp_identifier(title)
        shape = self.shape(sf, pointer, node, name, named=True)
        self.building.discard(key)
        if shape.kind == "named":
            decl = shape.decl
        else:
            decl = Decl(kind="alias", name=name, ts_name=pascal_case(name), file=sf, pointer=pointer,
                        description=node.get("description", "") if isinstance(node, dict) else "",
                        shape=shape)
            decl.deps = self.shape_deps(shape)
            self.register(decl)
        self.decl_at[key] = decl
        return decl

    def shape_deps(self, shape: Shape) -> list[Decl]:
        if shape.kind == "named":
            return [shape.decl]
        if shape.item is not None:
            return self.shape_deps(shape.item)
        return []

    def named(self, decl: Decl) -> Shape:
        if decl.kind == "alias":
            # Aliases read and write as what they stand for, under their own name.
            inner = decl.shape
            return Shape(**{**inner.__dict__, "cpp_type": self.qualifier + decl.name, "ts_type": decl.ts_name,
                            "alias": decl})
        return Shape(kind="named", cpp_type=self.qualifier + decl.name, ts_type=decl.ts_name, decl=decl)

    # -- schemas to shapes ---------------------------------------------------

    def shape(self, sf: SchemaFile, pointer: str, node: Any, name: str, named: bool = False) -> Shape:
        if node is True:
            return Shape(kind="any", cpp_type="::boost::json::value", ts_type="unknown")
        if node is False:
            self.fail(sf, pointer, "the schema `false` is not supported")
        if not isinstance(node, dict):
            self.fail(sf, pointer, "a schema must be an object or a boolean")
        for k in node:
            if k not in ANNOTATIONS and k not in ASSERTIONS:
                self.fail(sf, f"{pointer}/{k}", f"unsupported keyword {k!r}")
        if "$defs" in node and pointer:
            self.fail(sf, f"{pointer}/$defs", "$defs is supported at the root of a schema file only")
        for k in ("title", "description"):
            if not isinstance(node.get(k, ""), str):
                self.fail(sf, f"{pointer}/{k}", f"{k} must be a string")
        asserts = {k for k in node if k in ASSERTIONS}
        desc = node.get("description", "")

        if "$ref" in node:
            if asserts != {"$ref"}:
                self.fail(sf, pointer, "$ref cannot be combined with other assertions: "
                          + ", ".join(sorted(asserts - {"$ref"})))
            ref = node["$ref"]
            if not isinstance(ref, str):
                self.fail(sf, f"{pointer}/$ref", "$ref must be a string")
            tf, frag = self.resolve_ref(sf, pointer, ref)
            return self.named(self.decl_for(tf, frag))

        for union_kw in ("oneOf", "anyOf"):
            if union_kw in node:
                if asserts - {union_kw, "type"} or node.get("type", "object") != "object":
                    self.fail(sf, pointer, f"{union_kw} cannot be combined with other assertions")
                return self.named(self.variant(sf, pointer, node, union_kw, name, desc))

        if "enum" in node:
            values = node["enum"]
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                self.fail(sf, f"{pointer}/enum", "enum must be a non-empty array of strings")
            if len(set(values)) != len(values):
                self.fail(sf, f"{pointer}/enum", "enum values must be unique")
            if asserts - {"enum", "type"} or node.get("type", "string") != "string":
                self.fail(sf, pointer, "enum cannot be combined with assertions other than type: string")
            return self.named(self.enum(sf, pointer, values, name, desc))

        if "const" in node:
            value = node["const"]
            if not isinstance(value, str):
                self.fail(sf, f"{pointer}/const", "const must be a string")
            if asserts - {"const", "type"} or node.get("type", "string") != "string":
                self.fail(sf, pointer, "const cannot be combined with assertions other than type: string")
            return Shape(kind="const", cpp_type="std::string_view", ts_type=json.dumps(value, ensure_ascii=False),
                         const=value)

        if "type" not in node:
            if asserts:
                self.fail(sf, pointer, "assertions other than $ref, oneOf, anyOf, enum and const need a type")
            return Shape(kind="any", cpp_type="::boost::json::value", ts_type="unknown")

        t = node["type"]
        if isinstance(t, list):
            if len(t) != 2 or "null" not in t or t[0] == t[1] or not all(isinstance(x, str) for x in t):
                self.fail(sf, f"{pointer}/type", 'a list of types must be [T, "null"]')
            inner_type = t[0] if t[1] == "null" else t[1]
            inner = self.typed(sf, pointer, node, inner_type, name, desc)
            return Shape(kind="nullable", cpp_type=f"std::optional<{inner.cpp_type}>",
                         ts_type=f"{inner.ts_type} | null", item=inner)
        return self.typed(sf, pointer, node, t, name, desc)

    def typed(self, sf, pointer, node, t, name, desc) -> Shape:
        if not isinstance(t, str) or t not in KEYWORDS_BY_TYPE:
            self.fail(sf, f"{pointer}/type", f"unsupported type {t!r}")
        allowed = KEYWORDS_BY_TYPE[t] | {"type"}
        for k in node:
            if k in ASSERTIONS and k not in allowed:
                self.fail(sf, f"{pointer}/{k}", f"{k!r} does not apply to type {t!r}")

        def nonneg_int(key):
            v = node.get(key)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                self.fail(sf, f"{pointer}/{key}", f"{key} must be a non-negative integer")
            return v

        def num(key):
            v = node.get(key)
            if v is not None and not finite_double(v):
                self.fail(sf, f"{pointer}/{key}", f"{key} must be a finite number within the range of a double")
            return v

        if t == "string":
            s = Shape(kind="string", cpp_type="std::string", ts_type="string",
                      min_length=nonneg_int("minLength") or 0, max_length=nonneg_int("maxLength"))
            fmt = node.get("format")
            if fmt is not None:
                if fmt != "date-time":
                    self.fail(sf, f"{pointer}/format", f"format {fmt!r} is not supported (only date-time)")
                s.date_time = True
            pat = node.get("pattern")
            if pat is not None:
                if not isinstance(pat, str):
                    self.fail(sf, f"{pointer}/pattern", "pattern must be a string")
                try:
                    re.compile(pat)
                except re.error as e:
                    self.fail(sf, f"{pointer}/pattern", f"pattern does not compile: {e}")
                bad = non_ecma_syntax(pat)
                if bad is not None:
                    self.fail(sf, f"{pointer}/pattern", f"pattern syntax {bad!r} is not supported: it is not "
                              "ECMA-262, or std::regex cannot compile it")
                s.pattern = pat
                s.pattern_fn = f"{sf.stem}_pattern_{len(sf.patterns)}"
                pattern = Pattern(fn=s.pattern_fn, text=pat)
                simple = simple_class_pattern(pat)
                if simple:
                    pattern.ranges, pattern.min_count, pattern.max_count = simple
                sf.patterns.append(pattern)
            return s
        if t in ("integer", "number"):
            s = Shape(kind=t, cpp_type="std::int64_t" if t == "integer" else "double", ts_type="number",
                      minimum=num("minimum"), maximum=num("maximum"),
                      exclusive_minimum=num("exclusiveMinimum"), exclusive_maximum=num("exclusiveMaximum"))
            return s
        if t == "boolean":
            return Shape(kind="boolean", cpp_type="bool", ts_type="boolean")
        if t == "array":
            item = self.shape(sf, f"{pointer}/items", node.get("items", True), f"{name}_item")
            if item.kind == "const":
                self.fail(sf, f"{pointer}/items", "const is supported only on object properties")
            return Shape(kind="array", cpp_type=f"std::vector<{item.cpp_type}>",
                         ts_type=f"Array<{item.ts_type}>", item=item,
                         min_items=nonneg_int("minItems") or 0, max_items=nonneg_int("maxItems"))
        # object
        props = node.get("properties")
        addl = node.get("additionalProperties", True)
        if props is None:
            if "required" in node:
                self.fail(sf, f"{pointer}/required", "required needs properties")
            if addl is True or addl == {}:
                return Shape(kind="any_object", cpp_type="::boost::json::object",
                             ts_type="{ [key: string]: unknown }")
            if addl is False:
                self.fail(sf, pointer, "an object with no properties and additionalProperties: false is not supported")
            item = self.shape(sf, f"{pointer}/additionalProperties", addl, f"{name}_value")
            if item.kind == "const":
                self.fail(sf, f"{pointer}/additionalProperties", "const is supported only on object properties")
            return Shape(kind="map", cpp_type=f"std::map<std::string, {item.cpp_type}>",
                         ts_type=f"{{ [key: string]: {item.ts_type} }}", item=item)
        return self.named(self.struct(sf, pointer, node, name, desc))

    def struct(self, sf, pointer, node, name, desc) -> Decl:
        props = node["properties"]
        if not isinstance(props, dict):
            self.fail(sf, f"{pointer}/properties", "properties must be an object")
        if len(props) > 64:
            self.fail(sf, f"{pointer}/properties", "at most 64 properties per object are supported")
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            self.fail(sf, f"{pointer}/required", "required must be an array of strings")
        for r in required:
            if r not in props:
                self.fail(sf, f"{pointer}/required", f"required property {r!r} is not in properties")
        addl = node.get("additionalProperties", True)
        if addl not in (True, False) and addl != {}:
            self.fail(sf, f"{pointer}/additionalProperties",
                      "a schema for additionalProperties is supported only on objects without properties (maps)")
        decl = Decl(kind="struct", name=name, ts_name=pascal_case(name), file=sf, pointer=pointer,
                    description=desc, forbid_additional=addl is False)
        cpp_names = set()
        for i, (pname, pschema) in enumerate(props.items()):
            ppointer = f"{pointer}/properties/{pname.replace('~', '~0').replace('/', '~1')}"
            shape = self.shape(sf, ppointer, pschema, f"{name}_{snake_case(pname)}")
            cpp_name = cpp_identifier(pname)
            if cpp_name in cpp_names:
                self.fail(sf, ppointer, f"property name maps to C++ member {cpp_name!r} twice")
            cpp_names.add(cpp_name)
            f = Field(name=pname, cpp_name=cpp_name,
                      ts_name=pname if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", pname) else json.dumps(pname),
                      shape=shape, required=pname in required,
                      description=pschema.get("description", "") if isinstance(pschema, dict) else "",
                      bit=i)
            if shape.kind == "const" and not f.required:
                self.fail(sf, ppointer, "a const property must be required")
            if isinstance(pschema, dict) and "default" in pschema and shape.kind != "const":
                f.cpp_default = self.cpp_default(sf, ppointer, shape, pschema["default"])
                f.has_default = True
            decl.fields.append(f)
            decl.deps.extend(self.shape_deps(shape))
        # Separators: static where every earlier field is always written.
        written_for_sure = False
        optional_before = False
        for f in decl.fields:
            if written_for_sure:
                f.separator = ","
            elif not optional_before:
                f.separator = ""
            else:
                f.separator = "?"
                decl.dynamic_separator = True
            if f.is_optional:
                optional_before = True
            else:
                written_for_sure = True
        self.register(decl)
        return decl

    def check_default(self, sf, pointer, shape: Shape, value):
        """A default must satisfy its own field's rules: it becomes a member
        initializer, and parse(to_json(x)) must accept what x starts with."""
        def bad(why):
            self.fail(sf, f"{pointer}/default", f"default {json.dumps(value)} violates the schema: {why}")
        k = shape.kind
        if k in ("integer", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
            if shape.minimum is not None and value < shape.minimum:
                bad(f"below minimum {shape.minimum}")
            if shape.maximum is not None and value > shape.maximum:
                bad(f"above maximum {shape.maximum}")
            if shape.exclusive_minimum is not None and value <= shape.exclusive_minimum:
                bad(f"not above exclusiveMinimum {shape.exclusive_minimum}")
            if shape.exclusive_maximum is not None and value >= shape.exclusive_maximum:
                bad(f"not below exclusiveMaximum {shape.exclusive_maximum}")
            if k == "integer" and value != int(value):
                bad("not an integer")
        if k == "string" and isinstance(value, str):
            if len(value) < shape.min_length or (shape.max_length is not None and len(value) > shape.max_length):
                bad("length out of bounds")
            if shape.pattern is not None and not re.search(shape.pattern, value):
                bad(f"does not match pattern {shape.pattern}")
        if k == "array" and isinstance(value, list):
            if len(value) < shape.min_items or (shape.max_items is not None and len(value) > shape.max_items):
                bad("number of items out of bounds")

    def cpp_default(self, sf, pointer, shape: Shape, value) -> str:
        self.check_default(sf, pointer, shape, value)
        k = shape.kind
        if k == "nullable":
            return "std::nullopt" if value is None else self.cpp_default(sf, pointer, shape.item, value)
        if k == "string" and isinstance(value, str):
            return cpp_string_literal(value)
        if k == "integer" and isinstance(value, int) and not isinstance(value, bool) and -2**63 < value < 2**63:
            return str(value)
        if k == "number" and finite_double(value):
            return cpp_double_literal(value)
        if k == "boolean" and isinstance(value, bool):
            return "true" if value else "false"
        if k == "named" and shape.decl.kind == "enum" and isinstance(value, str):
            for cpp, wire in shape.decl.values:
                if wire == value:
                    return f"{shape.cpp_type}::{cpp}"
        if value == {} and (k in ("map", "any_object") or (k == "named" and shape.decl.kind == "struct")):
            return "{}"
        if isinstance(value, list) and k == "array":
            return "{" + ", ".join(self.cpp_default(sf, pointer, shape.item, x) for x in value) + "}"
        self.fail(sf, f"{pointer}/default", f"default {json.dumps(value)} is not supported for this type "
                  "(scalars that fit the C++ type, enum values, {} for objects and [] for arrays are)")

    def enum(self, sf, pointer, values, name, desc) -> Decl:
        decl = Decl(kind="enum", name=name, ts_name=pascal_case(name), file=sf, pointer=pointer, description=desc)
        used = set()
        for v in values:
            cpp = cpp_identifier(v)
            while cpp in used:
                cpp += "_"
            used.add(cpp)
            decl.values.append((cpp, v))
        self.register(decl)
        return decl

    def variant(self, sf, pointer, node, kw, name, desc) -> Decl:
        branches = node[kw]
        if not isinstance(branches, list) or not branches:
            self.fail(sf, f"{pointer}/{kw}", f"{kw} must be a non-empty array")
        decls = []
        for i, b in enumerate(branches):
            bp = f"{pointer}/{kw}/{i}"
            if not isinstance(b, dict) or set(b) - ANNOTATIONS != {"$ref"}:
                self.fail(sf, bp, f"each {kw} branch must be a $ref to an object type")
            tf, frag = self.resolve_ref(sf, bp, b["$ref"])
            d = self.decl_for(tf, frag)
            if d.kind != "struct":
                self.fail(sf, bp, f"each {kw} branch must be an object type with a const discriminator")
            decls.append(d)
        # The discriminator: a required const property present in every branch
        # with distinct values. Prefer `type`, then `kind`.
        candidates = None
        for d in decls:
            consts = {f.name: f.shape.const for f in d.fields if f.is_const}
            candidates = set(consts) if candidates is None else candidates & set(consts)
        chosen = None
        for c in sorted(candidates or (), key=lambda c: (c not in ("type", "kind"), c != "type", c)):
            vals = [next(f.shape.const for f in d.fields if f.name == c) for d in decls]
            if len(set(vals)) == len(vals):
                chosen = c
                break
        if chosen is None:
            self.fail(sf, f"{pointer}/{kw}", f"{kw} branches need a common required const property "
                      "with a distinct value in each (a discriminator such as \"type\")")
        decl = Decl(kind="variant", name=name, ts_name=pascal_case(name), file=sf, pointer=pointer,
                    description=desc, discriminator=chosen)
        for d in decls:
            tag = next(f.shape.const for f in d.fields if f.name == chosen)
            decl.alternatives.append((tag, d))
        decl.deps = list(decls)
        self.register(decl)
        return decl

    # -- whole files -----------------------------------------------------------

    def build(self) -> list[SchemaFile]:
        # In file-name order: declaration order and pattern numbers follow the
        # order in which types are first reached, which must not depend on the
        # order of the command line.
        for sf in sorted(self.files.values(), key=lambda f: f.display):
            if not isinstance(sf.document, dict):
                self.fail(sf, "", "the root of a schema file must be an object")
            sch = sf.document.get("$schema")
            if sch is not None and sch != "https://json-schema.org/draft/2020-12/schema":
                self.fail(sf, "/$schema", "only draft 2020-12 is supported")
            root = self.decl_for(sf, "")
            sf.root_name = root.name
            defs = sf.document.get("$defs", {})
            if not isinstance(defs, dict):
                self.fail(sf, "/$defs", "$defs must be an object")
            for key in defs:
                if "/" in key or "~" in key:
                    self.fail(sf, f"/$defs/{key}", "$defs keys must be plain names")
                self.decl_for(sf, f"/$defs/{key}")
        for sf in self.files.values():
            sf.decls = self.ordered(sf)
        return list(self.files.values())

    @staticmethod
    def ordered(sf: SchemaFile) -> list[Decl]:
        """Definition order: every type after the types it holds by value."""
        out: list[Decl] = []
        done: set[int] = set()

        def visit(d: Decl):
            if id(d) in done or d.file is not sf:
                return
            done.add(id(d))
            for dep in d.deps:
                visit(dep)
            out.append(d)

        for d in sf.decls:
            visit(d)
        return out


def build(paths: list[pathlib.Path], namespace: str = "jobwatch") -> list[SchemaFile]:
    return Builder(paths, namespace).build()
