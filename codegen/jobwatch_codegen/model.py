"""Loads schemas, checks them against what can be typed, and builds the view model.

Python decides everything here (names, types, rules, order); the Jinja2
templates only loop over the result and print it. Every text from a schema
that reaches generated source goes through escape.py, one function per
context.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from . import ecma_regex
from .escape import (CPP_KEYWORDS, cpp_comment, cpp_identifier, cpp_string_literal, cpp_string_view,  # noqa: F401
                     json_text, pascal_case, snake_case, ts_identifier, ts_json, ts_property_name, ts_string_literal)

# Keywords that only annotate: accepted, never a reason to refuse, and not
# checked (2020-12's content and meta-data vocabularies, $comment, ...).
ANNOTATIONS = {
    "$schema", "$id", "$defs", "$comment", "$anchor", "$vocabulary", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema",
}
# Every keyword that changes what is valid and that the generator implements.
ASSERTIONS = {
    "type", "properties", "required", "additionalProperties", "items", "enum",
    "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "minItems", "maxItems", "$ref", "format",
    "pattern", "oneOf", "anyOf", "minContains", "maxContains",
}
# Keywords of 2020-12 that the generator cannot type, each with why and what to write instead.
REFUSED = {
    "allOf": "a value cannot be several C++ types at once; merge the subschemas into one schema",
    "not": "a negation has no type; say what is allowed instead (enum, pattern, bounds)",
    "if": "a conditional has no single type; use a oneOf whose branches are tagged by a const property",
    "then": "a conditional has no single type; use a oneOf whose branches are tagged by a const property",
    "else": "a conditional has no single type; use a oneOf whose branches are tagged by a const property",
    "uniqueItems": "uniqueness is not checked; check it in the application, or use an object keyed by the item",
    "patternProperties": "keys chosen by a pattern have no member to go to; use additionalProperties with a schema",
    "propertyNames": "key constraints are not checked; use properties, or additionalProperties with a schema",
    "prefixItems": "tuples are not typed; use an object with named properties",
    "contains": "contains does not type the items; give items a schema that every item satisfies",
    "minProperties": "member counts are not checked; use required",
    "maxProperties": "member counts are not checked; use additionalProperties: false",
    "dependentRequired": "conditional presence has no single type; use a oneOf tagged by a const property",
    "dependentSchemas": "a conditional has no single type; use a oneOf tagged by a const property",
    "unevaluatedProperties": "it depends on which subschemas applied; use additionalProperties",
    "unevaluatedItems": "it depends on which subschemas applied; use items",
    "$dynamicRef": "dynamic references are not supported; use $ref",
    "$dynamicAnchor": "dynamic references are not supported; use $ref",
    "additionalItems": "it is not a 2020-12 keyword; use items",
    "dependencies": "it is not a 2020-12 keyword",
}
KEYWORDS_BY_TYPE = {
    "string": {"minLength", "maxLength", "pattern", "format"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"},
    "array": {"items", "minItems", "maxItems", "minContains", "maxContains"},
    "object": {"properties", "required", "additionalProperties"},
    "boolean": set(),
    "null": set(),
}
JSON_TYPES = ("null", "boolean", "object", "array", "number", "string", "integer")
# x-cpp-type on an integer: (C++ type, what it means)
CPP_TYPE_HINTS = {
    "milliseconds": "std::chrono::milliseconds",
    "size": "std::size_t",
}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


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


def pointer_token(key: str) -> str:
    """One JSON Pointer (RFC 6901) segment."""
    return key.replace("~", "~0").replace("/", "~1")


def cpp_double_literal(x: float | int) -> str:
    text = repr(float(x))
    if "e" not in text and "." not in text and "inf" not in text:
        text += ".0"
    return text


def cpp_int64_literal(x: int) -> str:
    # -9223372036854775808 is not a literal: it is minus a number too big for any integer type.
    return "(-9223372036854775807 - 1)" if x == INT64_MIN else str(x)


def finite_double(v) -> bool:
    """True for a JSON number (not a boolean) that a double holds as a finite value."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond the range of a double
        return False


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_integral(v) -> bool:
    return is_number(v) and (isinstance(v, int) or (math.isfinite(v) and v == int(v)))


def json_kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if is_number(v):
        return "integer" if is_integral(v) else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def json_equal(a, b) -> bool:
    """Equality as JSON Schema's const and enum mean it: 1 == 1.0, true != 1."""
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def has_lone_surrogate(v) -> bool:
    if isinstance(v, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if isinstance(v, list):
        return any(has_lone_surrogate(x) for x in v)
    if isinstance(v, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(x) for k, x in v.items())
    return False


def ts_object_literal(parts: list[str]) -> str:
    return "{ " + ", ".join(parts) + " }" if parts else "{}"


def simple_class_pattern(pattern: str):
    """Recognizes `^[class]{m,n}$` (optionally followed by `(?!\\n)`) over ASCII.

    Such patterns are most of what schemas use for ids and names; they are
    checked with a table instead of a regex engine. Returns (ranges, min, max)
    with max None for unbounded, or None when the pattern has another form.
    """
    try:
        tree = ecma_regex.parse(pattern)
    except ecma_regex.RegexError:
        return None
    if tree[0] != "seq":
        return None
    terms = tree[1]
    if len(terms) == 4 and terms[3] == ("look", ("seq", [("set", [(10, 10)])]), True):
        terms = terms[:3]
    if len(terms) != 3 or terms[0] != ("bol",) or terms[2] != ("eol",) or terms[1][0] != "repeat":
        return None
    _, atom, lo, hi, _lazy = terms[1]
    if atom[0] != "set" or not atom[1] or any(r[1] > 0x7F for r in atom[1]):
        return None
    return list(atom[1]), lo, hi


def is_date_time(s: str) -> bool:
    """RFC 3339 date-time as include/jobwatch/detail/rfc3339.hpp checks it."""
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                     r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))", s, re.ASCII)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= month <= 12 or not 1 <= day <= days[month - 1] or hour > 23 or minute > 59 or second > 60:
        return False
    return m.group(7) is None or (int(m.group(7)) <= 23 and int(m.group(8)) <= 59)


def multiple_of(x, m) -> bool:
    """multipleOf as python3-jsonschema decides it (the reference of the tests)."""
    if isinstance(m, float):
        q = x / m
        try:
            return int(q) == q
        except OverflowError:
            return False
    return x % m == 0


def same_shape(a: "Shape", b: "Shape") -> bool:
    """True when two shapes check and type a value alike (the names of their
    generated helper functions aside)."""
    if a.alias is not None or b.alias is not None:
        return a.alias is b.alias
    if a.kind != b.kind:
        return False
    if a.kind == "named":
        return a.decl is b.decl
    skip = {"decl", "alias", "item", "alternatives", "pattern_fn", "values_fn", "values"}
    if any(getattr(a, k) != getattr(b, k) for k in a.__dataclass_fields__ if k not in skip):
        return False
    if type(a.multiple_of) is not type(b.multiple_of):  # 2 and 2.0 are checked differently
        return False
    if not json_equal(a.values, b.values) or [json_kind(v) for v in a.values] != [json_kind(v) for v in b.values]:
        return False
    if (a.item is None) != (b.item is None) or (a.item is not None and not same_shape(a.item, b.item)):
        return False
    return len(a.alternatives) == len(b.alternatives) and all(
        same_shape(x, y) for x, y in zip(a.alternatives, b.alternatives))


# ----------------------------------------------------------------------------
# View model


@dataclass
class Shape:
    """What one value looks like: drives reading, writing and the C++/TS type."""

    # string integer number boolean null any any_object named array map nullable union const values
    kind: str
    cpp_type: str = ""
    ts_type: str = ""
    # string
    min_length: int = 0
    max_length: int | None = None
    date_time: bool = False
    pattern: str | None = None
    pattern_fn: str | None = None  # C++ function that matches the pattern
    # numbers
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: float | int | None = None
    hint: str | None = None  # x-cpp-type
    # const (one value) and values (several, not an enum class)
    values: list = field(default_factory=list)
    values_fn: str = ""  # C++ function returning the allowed values as a json::array
    # arrays, maps, nullable
    item: "Shape | None" = None
    min_items: int = 0
    max_items: int | None = None
    # union (type lists): one shape per JSON type, in schema order
    alternatives: list["Shape"] = field(default_factory=list)
    # named
    decl: "Decl | None" = None
    # The alias this shape was copied from (see Builder.named), so TypeScript
    # can name the alias and call its reader instead of repeating its rules.
    alias: "Decl | None" = field(default=None, compare=False, repr=False)

    @property
    def const(self):
        """The value of a const shape (string consts tag unions)."""
        return self.values[0] if self.kind == "const" else None

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
        for name in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "multiple_of"):
            value = getattr(self, name)
            parts.append("std::nullopt" if value is None else cpp_double_literal(value))
        if self.multiple_of is not None:
            parts.append("false" if isinstance(self.multiple_of, float) else "true")
        return "::jobwatch::detail::number_rules{" + ", ".join(parts) + "}"

    @property
    def cpp_array_rules(self) -> str:
        max_items = "std::numeric_limits<std::size_t>::max()" if self.max_items is None else str(self.max_items)
        return f"::jobwatch::detail::array_rules{{{self.min_items}, {max_items}}}"

    @property
    def cpp_values_message(self) -> str:
        if len(self.values) == 1:
            return cpp_string_literal("must be " + json_text(self.values[0]))
        return cpp_string_literal("must be one of " + ", ".join(json_text(v) for v in self.values))

    @property
    def cpp_values_json(self) -> str:
        return cpp_string_view(json_text(self.values))

    @property
    def union_expected(self) -> str:
        return " or ".join(a.json_type for a in self.alternatives)

    @property
    def json_type(self) -> str:
        """The JSON type name of a union alternative."""
        return {"map": "object", "any_object": "object", "named": "object"}.get(self.kind, self.kind)

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
                         ("exclusive_minimum", "exclusiveMinimum"), ("exclusive_maximum", "exclusiveMaximum"),
                         ("multiple_of", "multipleOf")):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{ts}: {json.dumps(value)}")
        if self.multiple_of is not None and not isinstance(self.multiple_of, float):
            parts.append("multipleOfInteger: true")
        return ts_object_literal(parts)

    @property
    def ts_array_rules(self) -> str:
        parts = []
        if self.min_items:
            parts.append(f"minItems: {self.min_items}")
        if self.max_items is not None:
            parts.append(f"maxItems: {self.max_items}")
        return ts_object_literal(parts)

    @property
    def ts_values(self) -> str:
        return "[" + ", ".join(ts_json(v) for v in self.values) + "]"

    @property
    def ts_values_message(self) -> str:
        if len(self.values) == 1:
            return ts_string_literal("must be " + json_text(self.values[0]))
        return ts_string_literal("must be one of " + ", ".join(json_text(v) for v in self.values))


@dataclass
class Field:
    name: str  # on the wire
    cpp_name: str
    ts_name: str  # as a TypeScript property name (quoted when it must be)
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
        """A required string const: a static member, not stored."""
        return self.shape.kind == "const" and self.required and isinstance(self.shape.const, str)

    @property
    def is_optional(self) -> bool:
        """Held in std::optional: not required and no default."""
        return not self.required and not self.has_default

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
    def cpp_key_view(self) -> str:
        return cpp_string_view(self.name)

    @property
    def cpp_key_json(self) -> str:
        """The key as written, with the separator when it is static: `,"job_id":`."""
        sep = self.separator if self.separator in ("", ",") else ""
        return cpp_string_literal(sep + json.dumps(self.name, ensure_ascii=False) + ":")

    @property
    def cpp_missing_message(self) -> str:
        return cpp_string_literal('missing required property ' + json.dumps(self.name, ensure_ascii=False))

    @property
    def ts_key(self) -> str:
        return ts_string_literal(self.name)

    @property
    def ts_missing_message(self) -> str:
        return ts_string_literal('missing required property ' + json.dumps(self.name, ensure_ascii=False))

    @property
    def ts_optional(self) -> bool:
        return not self.required


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
    additional: Shape | None = None  # additionalProperties schema beside properties: a map of the rest
    additional_name: str = ""  # its C++ member
    # enum
    values: list[tuple[str, str]] = field(default_factory=list)  # (cpp enumerator, wire value)
    # variant
    discriminator: str = ""
    alternatives: list[tuple[str, "Decl"]] = field(default_factory=list)
    # x-jobwatch-user-types: the union also holds event types registered at run
    # time (C++ `::jobwatch::user_event`, a TypeScript type parameter).
    user_types: bool = False
    # The properties every branch has, with one shape: (a branch's field, required in every branch).
    user_fields: list[tuple["Field", bool]] = field(default_factory=list)
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
    def cpp_enum_message(self) -> str:
        return cpp_string_literal("must be one of " + self.enum_choices)

    @property
    def ts_enum_message(self) -> str:
        return ts_string_literal("must be one of " + self.enum_choices)

    @property
    def cpp_variant_message(self) -> str:
        return cpp_string_literal("must be one of " + ", ".join(json.dumps(t, ensure_ascii=False)
                                                                for t, _ in self.alternatives))

    @property
    def ts_variant_message(self) -> str:
        return ts_string_literal("must be one of " + self.ts_variant_choices)

    @property
    def ts_index_type(self) -> str:
        """The index signature of a struct with an additionalProperties schema:
        it must admit every declared member's type too."""
        types = [self.additional.ts_type] + [f.shape.ts_type for f in self.fields]
        if any(f.ts_optional for f in self.fields):
            types.append("undefined")
        out: list[str] = []
        for t in types:
            if t not in out:
                out.append(t)
        return " | ".join(f"({t})" if "|" in t or "=>" in t else t for t in out)

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
    def ts_user_name(self) -> str:
        """The interface of an event type registered at run time, e.g. `JobEventUser`."""
        return self.ts_name + "User"

    @property
    def ts_discriminator_name(self) -> str:
        return ts_property_name(self.discriminator)

    @property
    def ts_read_type(self) -> str:
        """What the reader, parse and validate accept: an open union's user types too."""
        return f"{self.ts_name}<{self.ts_user_name}>" if self.user_types else self.ts_name

    @property
    def ts_user_required(self) -> list["Field"]:
        return [f for f, required in self.user_fields if required]

    @property
    def ts_exports(self) -> list[str]:
        """Every name the TypeScript module exports for this declaration."""
        names = [self.ts_name, self.ts_read_fn, self.ts_parse_fn, self.ts_validate_fn]
        if self.kind == "enum":
            names.append(self.ts_values_const)
        if self.user_types:
            names.append(self.ts_user_name)
        return names

    @property
    def ts_enum_union(self) -> str:
        return " | ".join(ts_string_literal(v) for _, v in self.values)

    @property
    def ts_enum_values(self) -> str:
        return ", ".join(ts_string_literal(v) for _, v in self.values)

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
        """The pattern rewritten for std::wregex (see ecma_regex.py), as a C++ literal."""
        return cpp_string_literal(ecma_regex.to_std_regex(ecma_regex.parse(self.text)))

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
    value_sets: list[Shape] = field(default_factory=list)  # const and enum values checked as JSON
    # x-jobwatch-events: the whole document as compact JSON, embedded in the header.
    schema_text: str | None = None

    @property
    def display(self) -> str:
        return self.path.name

    @property
    def uses_user_event(self) -> bool:
        """A union of this file holds `::jobwatch::user_event` (x-jobwatch-user-types)."""
        return any(d.kind == "variant" and d.user_types for d in self.decls)

    @property
    def stem_identifier(self) -> str:
        """The stem as a C++ identifier (codegen_roots, codegen_docs)."""
        return cpp_identifier(self.stem)

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
                for alt in s.alternatives:
                    walk(alt)

        for d in self.decls:
            if d.kind == "struct":
                for f in d.fields:
                    walk(f.shape)
                if d.additional is not None:
                    walk(d.additional)
            elif d.kind == "alias":
                walk(d.shape)
            elif d.kind == "variant":
                for _, alt in d.alternatives:
                    visit_ref(alt)
                # The reader of an open union checks the common properties itself.
                for f, _ in d.user_fields:
                    walk(f.shape)

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


def text_of(node, key) -> str:
    """An annotation's text; a lone surrogate (no UTF-8 form) becomes U+FFFD."""
    v = node.get(key, "") if isinstance(node, dict) else ""
    return re.sub("[\ud800-\udfff]", "\ufffd", v) if isinstance(v, str) else ""


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
        self.reserved: set[str] = set()  # inline names handed out, not yet registered
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
                      f"type name {decl.name!r} is already used by {other.file.display}: {other.pointer or '(root)'}; "
                      "change a title or a $defs key")
        self.names[decl.name] = decl
        decl.file.decls.append(decl)

    def inline_name(self, base: str) -> str:
        """A name for a type that the schema does not name (a property's
        object, a union's alternative): `base`, or `base_2`, ... when taken."""
        name, n = base, 2
        while name in self.names or name in self.reserved:
            name = f"{base}_{n}"
            n += 1
        self.reserved.add(name)
        return name

    def locate(self, sf: SchemaFile, pointer: str, ref: str) -> tuple[SchemaFile, str]:
        """The file and JSON Pointer a $ref names (fragment percent-decoded)."""
        target_file, _, fragment = ref.partition("#")
        fragment = urllib.parse.unquote(fragment)
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
                          + (" (remote references must equal the $id of an input; give that file too)"
                             if absolute else "; give that file to the generator too"))
        else:
            tf = sf
        if fragment and (not fragment.startswith("/$defs/") or fragment.count("/") != 2):
            self.fail(sf, pointer, f"$ref {ref!r}: only references to top-level $defs entries or to whole "
                      "schema files are supported; move the referenced schema into $defs")
        try:
            self.node_at(tf.document, fragment)
        except (KeyError, IndexError, ValueError, TypeError):
            self.fail(sf, pointer, f"$ref {ref!r} does not resolve")
        return tf, fragment

    def resolve_ref(self, sf: SchemaFile, pointer: str, ref: str) -> tuple[SchemaFile, str]:
        tf, fragment = self.locate(sf, pointer, ref)
        if tf is not sf and tf.stem not in sf.includes:
            sf.includes.append(tf.stem)
        return tf, fragment

    def decl_for(self, sf: SchemaFile, pointer: str) -> Decl:
        """The declaration of the schema at a root or `$defs` pointer, built once."""
        key = (sf.display, pointer)
        if key in self.decl_at:
            return self.decl_at[key]
        if key in self.building:
            self.fail(sf, pointer, "recursive types are not supported: a C++ aggregate cannot hold itself; "
                      "break the cycle with an array of ids or an untyped value ({})")
        self.building.add(key)
        node = self.node_at(sf.document, pointer)
        if pointer:
            name = cpp_identifier(pointer.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~"))
        else:
            title = node.get("title", sf.stem) if isinstance(node, dict) else sf.stem
            if not isinstance(title, str):
                self.fail(sf, "/title", "title must be a string")
            name = cpp_identifier(title)
        shape = self.shape(sf, pointer, node, name, named=True)
        self.building.discard(key)
        if shape.kind == "named":
            decl = shape.decl
        else:
            decl = Decl(kind="alias", name=name, ts_name=ts_identifier(name), file=sf, pointer=pointer,
                        description=text_of(node, "description"), shape=shape)
            decl.deps = self.shape_deps(shape)
            self.register(decl)
        self.decl_at[key] = decl
        return decl

    def shape_deps(self, shape: Shape) -> list[Decl]:
        if shape.kind == "named":
            return [shape.decl]
        out = []
        if shape.item is not None:
            out += self.shape_deps(shape.item)
        for alt in shape.alternatives:
            out += self.shape_deps(alt)
        return out

    def named(self, decl: Decl) -> Shape:
        if decl.kind == "alias":
            # Aliases read and write as what they stand for, under their own name.
            inner = decl.shape
            return Shape(**{**inner.__dict__, "cpp_type": self.qualifier + decl.name, "ts_type": decl.ts_name,
                            "alias": decl})
        return Shape(kind="named", cpp_type=self.qualifier + decl.name, ts_type=decl.ts_name, decl=decl)

    # -- the reference: does a value satisfy a schema? ------------------------

    def valid(self, sf: SchemaFile, node, value) -> bool:
        """JSON Schema 2020-12's decision for the keywords the generator knows;
        used for `default` (applied only when valid) and to drop `enum`
        values that the other keywords rule out."""
        if node is True or node == {}:
            return True
        if node is False or not isinstance(node, dict):
            return False
        if "$ref" in node and isinstance(node["$ref"], str):
            tf, frag = self.locate(sf, "", node["$ref"])
            if not self.valid(tf, self.node_at(tf.document, frag), value):
                return False
        kind = json_kind(value)
        t = node.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not (kind in types or (kind == "integer" and "number" in types)):
                return False
        if "enum" in node and not any(json_equal(value, e) for e in node["enum"]):
            return False
        if "const" in node and not json_equal(value, node["const"]):
            return False
        if is_number(value):
            if "minimum" in node and value < node["minimum"]:
                return False
            if "maximum" in node and value > node["maximum"]:
                return False
            if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
                return False
            if "exclusiveMaximum" in node and value >= node["exclusiveMaximum"]:
                return False
            if "multipleOf" in node and not multiple_of(value, node["multipleOf"]):
                return False
        if isinstance(value, str):
            if "minLength" in node and len(value) < node["minLength"]:
                return False
            if "maxLength" in node and len(value) > node["maxLength"]:
                return False
            if "pattern" in node and not ecma_regex.search(node["pattern"], value):
                return False
            if node.get("format") == "date-time" and not is_date_time(value):
                return False
        if isinstance(value, list):
            if len(value) < node.get("minItems", 0) or len(value) > node.get("maxItems", math.inf):
                return False
            if not all(self.valid(sf, node.get("items", True), x) for x in value):
                return False
        if isinstance(value, dict):
            props = node.get("properties", {})
            if any(r not in value for r in node.get("required", [])):
                return False
            for k, x in value.items():
                if not self.valid(sf, props[k] if k in props else node.get("additionalProperties", True), x):
                    return False
        if "oneOf" in node and sum(self.valid(sf, b, value) for b in node["oneOf"]) != 1:
            return False
        if "anyOf" in node and not any(self.valid(sf, b, value) for b in node["anyOf"]):
            return False
        return True

    def cpp_value(self, shape: Shape, value) -> str | None:
        """A C++ initializer of `shape`'s type holding `value`, or None when it
        has none (the default is then not applied)."""
        k = shape.kind
        if k == "nullable":
            return "std::nullopt" if value is None else self.cpp_value(shape.item, value)
        if k in ("const", "values"):
            # The value is stored as the scalar type the generator chose for the set.
            as_kind = {"std::string": "string", "bool": "boolean", "std::nullptr_t": "null",
                       "std::int64_t": "integer", "double": "number"}.get(shape.cpp_type)
            return None if as_kind is None else self.cpp_value(Shape(kind=as_kind), value)
        if has_lone_surrogate(value):
            return None
        if k == "string" and isinstance(value, str):
            literal = cpp_string_view(value)
            return literal if "\0" not in value else f"std::string{{{literal}}}"
        if k == "integer" and is_integral(value) and INT64_MIN <= value <= INT64_MAX:
            text = cpp_int64_literal(int(value))
            if shape.hint == "milliseconds":
                return f"std::chrono::milliseconds{{{text}}}"
            return text
        if k == "number" and finite_double(value):
            return cpp_double_literal(value)
        if k == "boolean" and isinstance(value, bool):
            return "true" if value else "false"
        if k == "null" and value is None:
            return "nullptr"
        if k == "named" and shape.decl.kind == "enum" and isinstance(value, str):
            for cpp, wire in shape.decl.values:
                if wire == value:
                    return f"{shape.cpp_type}::{cpp}"
        if value == {} and (k in ("map", "any_object") or (k == "named" and shape.decl.kind == "struct")):
            return "{}"
        if isinstance(value, list) and k == "array":
            items = [self.cpp_value(shape.item, x) for x in value]
            return None if None in items else "{" + ", ".join(items) + "}"
        return None

    # -- schemas to shapes ---------------------------------------------------

    def shape(self, sf: SchemaFile, pointer: str, node: Any, name: str, named: bool = False) -> Shape:
        if node is True:
            return Shape(kind="any", cpp_type="::boost::json::value", ts_type="unknown")
        if node is False:
            self.fail(sf, pointer, "the schema `false` accepts nothing, so it has no type; leave the property "
                      "out and set additionalProperties: false")
        if not isinstance(node, dict):
            self.fail(sf, pointer, "a schema must be an object or a boolean")
        for k in node:
            if k in REFUSED:
                self.fail(sf, f"{pointer}/{pointer_token(k)}", f"unsupported keyword {k!r}: {REFUSED[k]}")
        if "$defs" in node and pointer:
            self.fail(sf, f"{pointer}/$defs", "$defs is supported at the root of a schema file only; "
                      "move the entries to the root's $defs")
        for k in ("title", "description"):
            if not isinstance(node.get(k, ""), str):
                self.fail(sf, f"{pointer}/{k}", f"{k} must be a string")
        self.jobwatch_keywords(sf, pointer, node)
        asserts = {k for k in node if k in ASSERTIONS}
        desc = text_of(node, "description")
        if "x-cpp-type" in node and node.get("type") != "integer":
            self.fail(sf, f"{pointer}/x-cpp-type", "x-cpp-type applies to schemas of type integer only")
        for k in ("minContains", "maxContains"):
            if k in node:
                # Without contains (refused), they assert nothing.
                asserts.discard(k)
                self.nonneg_int(sf, pointer, node, k)

        if "$ref" in node:
            if asserts != {"$ref"}:
                self.fail(sf, pointer, "$ref cannot be combined with other assertions ("
                          + ", ".join(sorted(asserts - {"$ref"})) + "); put them into the referenced schema, "
                          "or into a new $defs entry")
            ref = node["$ref"]
            if not isinstance(ref, str):
                self.fail(sf, f"{pointer}/$ref", "$ref must be a string")
            tf, frag = self.resolve_ref(sf, pointer, ref)
            return self.named(self.decl_for(tf, frag))

        for union_kw in ("oneOf", "anyOf"):
            if union_kw in node:
                if asserts - {union_kw, "type"} or node.get("type", "object") != "object":
                    self.fail(sf, pointer, f"{union_kw} cannot be combined with other assertions than type: object; "
                              "put them into each branch")
                return self.named(self.variant(sf, pointer, node, union_kw, name, desc))

        if "enum" in node or "const" in node:
            return self.value_shape(sf, pointer, node, name, desc)

        if "type" not in node:
            if asserts:
                self.fail(sf, pointer, "assertions other than $ref, oneOf, anyOf, enum and const need a type "
                          f"(without one, {', '.join(sorted(asserts))} would apply only to values of its own type "
                          "and let every other value through); add \"type\"")
            return Shape(kind="any", cpp_type="::boost::json::value", ts_type="unknown")

        types = self.types(sf, pointer, node)
        nullable = "null" in types and len(types) > 1
        rest = [t for t in types if t != "null"] or ["null"]
        if len(rest) == 1:
            inner = self.typed(sf, pointer, node, rest[0], name, desc)
        else:
            alts = [self.typed(sf, pointer, node, t, self.inline_name(f"{name}_{t}") if t == "object" else name, desc)
                    for t in rest]
            inner = Shape(kind="union", cpp_type="std::variant<" + ", ".join(a.cpp_type for a in alts) + ">",
                          ts_type=" | ".join(a.ts_type for a in alts), alternatives=alts)
        if not nullable:
            return inner
        return Shape(kind="nullable", cpp_type=f"std::optional<{inner.cpp_type}>",
                     ts_type=f"{inner.ts_type} | null", item=inner)

    def jobwatch_keywords(self, sf, pointer, node) -> None:
        """Checks where jobwatch's own keywords for event types stand and what they hold."""
        if "x-jobwatch-user-types" in node:
            kp = f"{pointer}/x-jobwatch-user-types"
            if pointer or not ("oneOf" in node or "anyOf" in node):
                self.fail(sf, kp, "x-jobwatch-user-types applies to the root of a schema file that is a oneOf or "
                          "anyOf union only; move it there")
            if node["x-jobwatch-user-types"] is not True:
                self.fail(sf, kp, "x-jobwatch-user-types must be true; leave it out for a union of the listed "
                          "types only")
        if "x-jobwatch-events" in node:
            kp = f"{pointer}/x-jobwatch-events"
            if pointer:
                self.fail(sf, kp, "x-jobwatch-events applies to the root of a schema file only; move it there")
            if not isinstance(node["x-jobwatch-events"], bool):
                self.fail(sf, kp, "x-jobwatch-events must be true or false")
        if "x-jobwatch-effect" in node:
            kp = f"{pointer}/x-jobwatch-effect"
            if node.get("type") != "object" or "oneOf" in node or "anyOf" in node:
                self.fail(sf, kp, "x-jobwatch-effect applies to an object schema (an event definition) only")
            if node["x-jobwatch-effect"] not in ("none", "progress", "log"):
                self.fail(sf, kp, "x-jobwatch-effect must be \"none\", \"progress\" or \"log\"")

    def types(self, sf, pointer, node) -> list[str]:
        """The `type` keyword as a list, with every other assertion checked to apply to one of them."""
        t = node["type"]
        if not isinstance(t, (str, list)):
            self.fail(sf, f"{pointer}/type", f"unsupported type {t!r}")
        types = t if isinstance(t, list) else [t]
        if not types or not all(isinstance(x, str) for x in types) or len(set(types)) != len(types):
            self.fail(sf, f"{pointer}/type", "type must be a type name or a non-empty list of distinct type names")
        for x in types:
            if x not in JSON_TYPES:
                self.fail(sf, f"{pointer}/type", f"unsupported type {x!r}")
        if "number" in types and "integer" in types:
            types = [x for x in types if x != "integer"]  # every integer is a number
        allowed = set().union(*(KEYWORDS_BY_TYPE[x] for x in types)) | {"type", "enum", "const"}
        for k in node:
            if k in ASSERTIONS and k not in allowed:
                self.fail(sf, f"{pointer}/{k}", f"{k!r} does not apply to type {t!r}: it would be ignored; "
                          "remove it, or add the type it is meant for")
        return types

    def nonneg_int(self, sf, pointer, node, key):
        v = node.get(key)
        if v is not None and (not is_integral(v) or v < 0):
            self.fail(sf, f"{pointer}/{key}", f"{key} must be a non-negative integer")
        if v is None:
            return None
        # Beyond any size a document can have: no bound.
        return int(v) if v < 2**63 else None

    def value_shape(self, sf, pointer, node, name, desc) -> Shape:
        """`enum` or `const` (with whatever else the schema says): the values
        that satisfy every keyword, typed as tightly as they allow."""
        if "enum" in node:
            values = node["enum"]
            if not isinstance(values, list) or not values:
                self.fail(sf, f"{pointer}/enum", "enum must be a non-empty array")
            rest = {k: v for k, v in node.items() if k != "enum"}
            source = "enum"
        else:
            values = [node["const"]]
            rest = {k: v for k, v in node.items() if k != "const"}
            source = "const"
        if "type" in node:
            self.types(sf, pointer, node)
        kept: list = []
        for v in values:
            if has_lone_surrogate(v):
                self.fail(sf, f"{pointer}/{source}", f"{json.dumps(v)} holds a lone surrogate, which no UTF-8 "
                          "string can hold; remove it")
            if not any(json_equal(v, k) for k in kept) and self.valid(sf, rest, v):
                kept.append(v)
        if not kept:
            self.fail(sf, f"{pointer}/{source}", f"no value of {source} satisfies the other keywords, so nothing "
                      "is valid; fix the values or the keywords")
        for v in kept:
            if is_number(v) and not finite_double(v):
                self.fail(sf, f"{pointer}/{source}", f"{json.dumps(v)} is out of the range of a double")
        strings = [v for v in kept if isinstance(v, str)]
        if source == "enum" and strings and len(strings) + (None in kept) == len(kept):
            decl = self.enum(sf, pointer, strings, name, desc)
            shape = self.named(decl)
            if None in kept:
                return Shape(kind="nullable", cpp_type=f"std::optional<{shape.cpp_type}>",
                             ts_type=f"{shape.ts_type} | null", item=shape)
            return shape
        kinds = {json_kind(v) for v in kept}
        if kinds == {"string"}:
            cpp, ts = "std::string", "string"
        elif kinds == {"boolean"}:
            cpp, ts = "bool", "boolean"
        elif kinds == {"null"}:
            cpp, ts = "std::nullptr_t", "null"
        elif kinds == {"integer"} and all(INT64_MIN <= v <= INT64_MAX for v in kept):
            cpp, ts = "std::int64_t", "number"
        elif kinds <= {"integer", "number"}:
            cpp, ts = "double", "number"
        else:
            cpp, ts = "::boost::json::value", "unknown"
        if kinds <= {"string", "boolean", "null", "integer", "number"}:
            ts = " | ".join(ts_json(v) for v in kept)
        shape = Shape(kind="const" if len(kept) == 1 else "values", cpp_type=cpp, ts_type=ts, values=kept)
        shape.values_fn = f"{sf.stem_identifier}_values_{len(sf.value_sets)}"
        sf.value_sets.append(shape)
        return shape

    def typed(self, sf, pointer, node, t, name, desc) -> Shape:
        def num(key):
            v = node.get(key)
            if v is not None and not finite_double(v):
                self.fail(sf, f"{pointer}/{key}", f"{key} must be a finite number within the range of a double")
            return v

        if t == "string":
            s = Shape(kind="string", cpp_type="std::string", ts_type="string",
                      min_length=self.nonneg_int(sf, pointer, node, "minLength") or 0,
                      max_length=self.nonneg_int(sf, pointer, node, "maxLength"))
            fmt = node.get("format")
            if fmt is not None and not isinstance(fmt, str):
                self.fail(sf, f"{pointer}/format", "format must be a string")
            # Other formats are annotations, as 2020-12's default format-annotation vocabulary says.
            s.date_time = fmt == "date-time"
            pat = node.get("pattern")
            if pat is not None:
                if not isinstance(pat, str):
                    self.fail(sf, f"{pointer}/pattern", "pattern must be a string")
                if has_lone_surrogate(pat):
                    self.fail(sf, f"{pointer}/pattern", "pattern holds a lone surrogate; write it as \\uXXXX")
                try:
                    ecma_regex.parse(pat)
                except ecma_regex.RegexError as e:
                    self.fail(sf, f"{pointer}/pattern", f"pattern is not an ECMA-262 regular expression that "
                              f"jobwatch can check: {e}")
                s.pattern = pat
                s.pattern_fn = f"{sf.stem_identifier}_pattern_{len(sf.patterns)}"
                pattern = Pattern(fn=s.pattern_fn, text=pat)
                simple = simple_class_pattern(pat)
                if simple:
                    pattern.ranges, pattern.min_count, pattern.max_count = simple
                sf.patterns.append(pattern)
            return s
        if t in ("integer", "number"):
            s = Shape(kind=t, cpp_type="std::int64_t" if t == "integer" else "double", ts_type="number",
                      minimum=num("minimum"), maximum=num("maximum"),
                      exclusive_minimum=num("exclusiveMinimum"), exclusive_maximum=num("exclusiveMaximum"),
                      multiple_of=num("multipleOf"))
            if s.multiple_of is not None and s.multiple_of <= 0:
                self.fail(sf, f"{pointer}/multipleOf", "multipleOf must be greater than 0")
            hint = node.get("x-cpp-type")
            if hint is not None:
                if t != "integer" or hint not in CPP_TYPE_HINTS:
                    self.fail(sf, f"{pointer}/x-cpp-type", "x-cpp-type must be \"milliseconds\" or \"size\", "
                              "on a schema of type integer")
                if hint == "size" and not ((s.minimum is not None and s.minimum >= 0) or
                                           (s.exclusive_minimum is not None and s.exclusive_minimum >= -1)):
                    self.fail(sf, f"{pointer}/x-cpp-type", "x-cpp-type size needs minimum >= 0 (a std::size_t "
                              "cannot hold a negative value)")
                s.hint = hint
                s.cpp_type = CPP_TYPE_HINTS[hint]
            return s
        if t == "boolean":
            return Shape(kind="boolean", cpp_type="bool", ts_type="boolean")
        if t == "null":
            return Shape(kind="null", cpp_type="std::nullptr_t", ts_type="null")
        if t == "array":
            item = self.shape(sf, f"{pointer}/items", node.get("items", True), self.inline_name(f"{name}_item"))
            return Shape(kind="array", cpp_type=f"std::vector<{item.cpp_type}>",
                         ts_type=f"Array<{item.ts_type}>", item=item,
                         min_items=self.nonneg_int(sf, pointer, node, "minItems") or 0,
                         max_items=self.nonneg_int(sf, pointer, node, "maxItems"))
        # object
        props = node.get("properties")
        addl = node.get("additionalProperties", True)
        if props is None and "required" not in node and addl is not False:
            if addl is True or addl == {}:
                return Shape(kind="any_object", cpp_type="::boost::json::object",
                             ts_type="{ [key: string]: unknown }")
            item = self.shape(sf, f"{pointer}/additionalProperties", addl, self.inline_name(f"{name}_value"))
            return Shape(kind="map", cpp_type=f"std::map<std::string, {item.cpp_type}>",
                         ts_type=f"{{ [key: string]: {item.ts_type} }}", item=item)
        return self.named(self.struct(sf, pointer, node, name, desc))

    def struct(self, sf, pointer, node, name, desc) -> Decl:
        props = node.get("properties", {})
        if not isinstance(props, dict):
            self.fail(sf, f"{pointer}/properties", "properties must be an object")
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            self.fail(sf, f"{pointer}/required", "required must be an array of strings")
        addl = node.get("additionalProperties", True)
        # A required name without a schema in properties is checked by additionalProperties.
        members = dict(props)
        for r in required:
            if r not in members:
                if addl is False:
                    self.fail(sf, f"{pointer}/required", f"required property {r!r} is not in properties and "
                              "additionalProperties is false, so no object is valid; add it to properties")
                members[r] = addl
        if len(members) > 64:
            self.fail(sf, f"{pointer}/properties", "at most 64 properties per object are supported; "
                      "group some of them into nested objects")
        decl = Decl(kind="struct", name=name, ts_name=ts_identifier(name), file=sf, pointer=pointer,
                    description=desc, forbid_additional=addl is False)
        cpp_names: set[str] = set()
        for i, (pname, pschema) in enumerate(members.items()):
            ppointer = f"{pointer}/properties/{pointer_token(pname)}" if pname in props \
                else f"{pointer}/additionalProperties"
            if has_lone_surrogate(pname):
                self.fail(sf, ppointer, "the property name holds a lone surrogate, which no UTF-8 string can hold")
            shape = self.shape(sf, ppointer, pschema, self.inline_name(f"{name}_{snake_case(pname)}"))
            f = Field(name=pname, cpp_name=cpp_identifier(pname, cpp_names), ts_name=ts_property_name(pname),
                      shape=shape, required=pname in required, description=text_of(pschema, "description"), bit=i)
            if not f.is_const and isinstance(pschema, dict) and "default" in pschema:
                value = pschema["default"]
                if self.valid(sf, pschema, value):
                    f.cpp_default = self.cpp_value(shape, value)
                    f.has_default = f.cpp_default is not None
            if shape.kind == "const" and f.required and not f.is_const:
                # A required const that is not a string: the member starts out holding it.
                f.cpp_default = self.cpp_value(shape, shape.const)
            decl.fields.append(f)
            decl.deps.extend(self.shape_deps(shape))
        if addl is not True and addl is not False and addl != {}:
            decl.additional = self.shape(sf, f"{pointer}/additionalProperties", addl,
                                         self.inline_name(f"{name}_value"))
            decl.additional_name = cpp_identifier("additional_properties", cpp_names)
            decl.deps.extend(self.shape_deps(decl.additional))
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
        if decl.additional is not None and not written_for_sure:
            decl.dynamic_separator = True
        self.register(decl)
        return decl

    def enum(self, sf, pointer, values, name, desc) -> Decl:
        decl = Decl(kind="enum", name=name, ts_name=ts_identifier(name), file=sf, pointer=pointer, description=desc)
        used: set[str] = set()
        for v in values:
            decl.values.append((cpp_identifier(v, used), v))
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
                self.fail(sf, bp, f"each {kw} branch must be a $ref to an object type (a C++ variant needs named "
                          "alternatives); move the branch into $defs and refer to it")
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
                      "with a distinct value in each (a discriminator such as \"type\"), so that the tag decides "
                      "which C++ alternative a document is")
        decl = Decl(kind="variant", name=name, ts_name=ts_identifier(name), file=sf, pointer=pointer,
                    description=desc, discriminator=chosen)
        for d in decls:
            tag = next(f.shape.const for f in d.fields if f.name == chosen)
            decl.alternatives.append((tag, d))
        decl.deps = list(decls)
        if node.get("x-jobwatch-user-types") is True:  # where and what checked by jobwatch_keywords
            decl.user_types = True
            decl.user_fields = self.common_fields(decls, chosen)
        self.register(decl)
        return decl

    @staticmethod
    def common_fields(decls: list[Decl], discriminator: str) -> list[tuple[Field, bool]]:
        """The properties of every branch, other than the discriminator, with the
        same schema in each: (the first branch's field, required in every branch),
        in the first branch's order."""
        out = []
        for f in decls[0].fields:
            if f.name == discriminator:
                continue
            others = [next((g for g in d.fields if g.name == f.name), None) for d in decls[1:]]
            if all(g is not None and same_shape(f.shape, g.shape) for g in others):
                out.append((f, f.required and all(g.required for g in others)))
        return out

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
            if sf.document.get("x-jobwatch-events") is True:
                if root.kind not in ("struct", "variant"):
                    self.fail(sf, "/x-jobwatch-events", "x-jobwatch-events needs a root that is an object type "
                              "or a oneOf/anyOf union of object types (the event types it declares)")
                try:
                    sf.schema_text = json.dumps(sf.document, separators=(",", ":"), allow_nan=False)
                except ValueError:
                    self.fail(sf, "", "x-jobwatch-events: the document holds NaN or Infinity, which JSON "
                              "cannot; write a number")
            defs = sf.document.get("$defs", {})
            if not isinstance(defs, dict):
                self.fail(sf, "/$defs", "$defs must be an object")
            for key in defs:
                self.decl_for(sf, f"/$defs/{pointer_token(key)}")
        for sf in self.files.values():
            sf.decls = self.ordered(sf)
        # Keep the value sets that a reader checks (a required string const is
        # a static member, checked by comparison); a set may be used by another file.
        used: set[str] = set()

        def walk(s: Shape):
            if s.kind in ("const", "values"):
                used.add(s.values_fn)
            if s.item is not None:
                walk(s.item)
            for alt in s.alternatives:
                walk(alt)

        for sf in self.files.values():
            for d in sf.decls:
                if d.kind == "struct":
                    for f in d.fields:
                        if not f.is_const:
                            walk(f.shape)
                    if d.additional is not None:
                        walk(d.additional)
                elif d.kind == "alias":
                    walk(d.shape)
        for sf in self.files.values():
            sf.value_sets = [s for s in sf.value_sets if s.values_fn in used]
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
