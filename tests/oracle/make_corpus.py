#!/usr/bin/python3
"""Build the schema-conformance corpus for jobwatch's generated parsers.

For every ``<stem>.schema.json`` in the given schema directories, this takes
the valid sample instances of that schema, derives documents from them
(the samples themselves and many mutations applied at JSON pointers found by
walking each sample together with its schema), asks python3-jsonschema
(Draft 2020-12) whether each document is valid, and writes one JSON line per
document:

    {"schema": STEM, "doc_hex": HEX, "valid": BOOL, "mutation": NAME[, "limit": WHY]}

``valid`` is the oracle's decision, except for the three documented
representation limits of the C++ parser (see tests/oracle/README.md), where
an accepted document is forced to ``false`` and ``limit`` says why.

Usage:
    /usr/bin/python3 tests/oracle/make_corpus.py --out FILE --schema-dir DIR [--schema-dir DIR2 ...]

Only the standard library and jsonschema (Debian's python3-jsonschema 4.10)
are used. The output is deterministic: fixed seeds, no set or hash ordering.
"""

import argparse
import json
import math
import os
import random
import re
import sys
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker, RefResolver
except ImportError:  # pragma: no cover - environment problem
    sys.exit("make_corpus.py: needs python3-jsonschema; run it with /usr/bin/python3")

REPO = Path(__file__).resolve().parents[2]
SEED = "jobwatch-oracle-corpus-v1"

# Representation limits of the C++ parser (the only overrides of the oracle).
MAX_DEPTH = 64
LIMIT_DEPTH = "nesting depth over 64"
LIMIT_DOUBLE = "number out of double range"
LIMIT_INT64 = "integer out of int64 range"
LIMIT_SURROGATE = "escaped lone surrogate, not representable in UTF-8"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Per-sample document counts: everything marked "keep" (each probe is kept
# once per schema, so every kind of mutation appears) plus a seeded random pick
# of the rest, up to TARGET_PER_SAMPLE documents; samples whose mutated
# documents are large get fewer (BYTES_PER_SAMPLE / median size), never fewer
# than MIN_PER_SAMPLE when there are that many. BYTES_PER_SAMPLE is lowered
# until the corpus fits in MAX_CORPUS_BYTES.
TARGET_PER_SAMPLE = 100
MIN_PER_SAMPLE = 50
BYTES_PER_SAMPLE = 16000  # start value; lowered while the corpus is too big
MAX_CORPUS_BYTES = 2_950_000
PRUNE_ABOVE = 300  # compact sample bytes above which mutations use a pruned context
WANT_VALID_FRACTION = 0.38

# Schema keywords that constrain an instance (anything else is an annotation).
ASSERTIONS = frozenset("""
    type enum const properties patternProperties additionalProperties required
    items prefixItems contains minItems maxItems uniqueItems minContains maxContains
    minimum maximum exclusiveMinimum exclusiveMaximum multipleOf
    minLength maxLength pattern format minProperties maxProperties
    propertyNames dependentRequired dependentSchemas allOf anyOf oneOf not
    if then else $ref $dynamicRef unevaluatedItems unevaluatedProperties
""".split())


# --------------------------------------------------------------------------
# RFC 3339 date-time, exactly as include/jobwatch/detail/rfc3339.hpp decides.

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.[0-9]+)?(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date_time(s):
    m = _DATE_TIME.fullmatch(s)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12 or day < 1 or hour > 23 or minute > 59 or second > 60:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > (29 if month == 2 and leap else _DAYS[month - 1]):
        return False
    if m.group(7) is not None and (int(m.group(7)) > 23 or int(m.group(8)) > 59):
        return False
    return True


def make_format_checker():
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(instance):
        return not isinstance(instance, str) or is_date_time(instance)

    return checker


# --------------------------------------------------------------------------
# Serialisation with exact control over the bytes.

class Raw:
    """Bytes inserted verbatim where a JSON value goes."""

    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b.encode("utf-8") if isinstance(b, str) else b


class Obj:
    """An object as a list of (key, value) pairs: keys may repeat, and a key
    may be a Raw (already quoted) token."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = list(pairs)


def _key_bytes(k, ascii_only):
    if isinstance(k, Raw):
        return k.b
    return json.dumps(k, ensure_ascii=ascii_only).encode("utf-8")


def dump(v, pretty=False, ascii_only=False, level=0):
    """JSON text of v as bytes: compact, or indented by 2 like json.dumps."""
    if isinstance(v, Raw):
        return v.b
    if v is None:
        return b"null"
    if v is True:
        return b"true"
    if v is False:
        return b"false"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, float):
        assert math.isfinite(v), "write non-finite numbers as Raw"
        return repr(v).encode()
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=ascii_only).encode("utf-8")
    if isinstance(v, (dict, Obj)):
        items = v.pairs if isinstance(v, Obj) else list(v.items())
        if not items:
            return b"{}"
        parts = [_key_bytes(k, ascii_only) + (b": " if pretty else b":")
                 + dump(x, pretty, ascii_only, level + 1) for k, x in items]
        return _join(b"{", parts, b"}", pretty, level)
    if isinstance(v, list):
        if not v:
            return b"[]"
        return _join(b"[", [dump(x, pretty, ascii_only, level + 1) for x in v], b"]",
                     pretty, level)
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _join(open_, parts, close, pretty, level):
    if not pretty:
        return open_ + b",".join(parts) + close
    inner = b"\n" + b"  " * (level + 1)
    return open_ + inner + (b"," + inner).join(parts) + b"\n" + b"  " * level + close


# --------------------------------------------------------------------------
# JSON pointers and structural edits.

def pointer(tokens):
    if not tokens:
        return "(root)"
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def walk_values(v, tokens=()):
    """(tokens, value) for every value of v, in document order."""
    out = [(tokens, v)]
    if isinstance(v, dict):
        for k, x in v.items():
            out.extend(walk_values(x, tokens + (k,)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.extend(walk_values(x, tokens + (i,)))
    return out


def replace_at(doc, tokens, fn):
    """A copy of doc (copied along the path only) with the value at tokens
    replaced by fn(old)."""
    if not tokens:
        return fn(doc)
    head, rest = tokens[0], tokens[1:]
    if isinstance(doc, dict):
        if head not in doc:  # a new member, added at the end
            assert not rest, "only the last token may name a missing member"
            return {**doc, head: fn(None)}
        return {k: (replace_at(x, rest, fn) if k == head else x) for k, x in doc.items()}
    copy = list(doc)
    copy[head] = replace_at(doc[head], rest, fn)
    return copy


def set_at(doc, tokens, value):
    return replace_at(doc, tokens, lambda _old: value)


def delete_member(doc, tokens):
    parent, key = tokens[:-1], tokens[-1]
    return replace_at(doc, parent, lambda o: {k: x for k, x in o.items() if k != key})


def nest(depth, leaf, kind):
    """depth levels of containers around leaf: arrays, objects or alternating."""
    v = leaf
    for i in range(depth):
        use_object = kind == "object" or (kind == "mixed" and i % 2 == 0)
        v = {"a": v} if use_object else [v]
    return v


def max_depth(v):
    """Nesting depth of arrays/objects (a scalar is 0, {} or [] is 1)."""
    best, stack = 0, [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, dict):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x.values())
        elif isinstance(x, list):
            best = max(best, d)
            stack.extend((y, d + 1) for y in x)
    return best


def non_finite(v):
    """True when some number of v is not finite as a double."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, bool) or x is None or isinstance(x, str):
            continue
        if isinstance(x, float) and not math.isfinite(x):
            return True
        if isinstance(x, int):
            try:
                float(x)
            except OverflowError:
                return True
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return False


# --------------------------------------------------------------------------
# Schemas, references and the oracle.

def _no_remote(uri):
    raise jsonschema.exceptions.RefResolutionError(f"remote reference {uri!r} is not in the store")


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


class SchemaSet:
    def __init__(self, dirs):
        self.files = {}      # stem -> (path, base uri, document)
        self.store = {}      # uri or file name -> document
        self.checker = make_format_checker()
        for d in dirs:
            for path in sorted(Path(d).glob("*.schema.json")):
                stem = path.name[: -len(".schema.json")]
                if stem in self.files:
                    warn(f"{path}: stem {stem!r} already loaded from "
                         f"{self.files[stem][0]}; ignored")
                    continue
                doc = json.loads(path.read_text(encoding="utf-8"))
                Draft202012Validator.check_schema(doc)
                base = doc.get("$id", path.name) if isinstance(doc, dict) else path.name
                base = urldefrag(base)[0]
                self.files[stem] = (path, base, doc)
                self.store[base] = doc
                self.store.setdefault(path.name, doc)
        self.validators = {stem: self.validator(base, doc)
                           for stem, (_p, base, doc) in self.files.items()}
        self._sub = {}

    def resolver(self, base, referrer):
        return RefResolver(base, referrer, store=self.store,
                           handlers={"http": _no_remote, "https": _no_remote, "file": _no_remote})

    def validator(self, base, schema):
        root = self.store.get(base, schema)
        return Draft202012Validator(schema, resolver=self.resolver(base, root),
                                    format_checker=self.checker)

    def is_valid_sub(self, base, schema, instance):
        key = (base, id(schema))
        if key not in self._sub:
            self._sub[key] = (schema, self.validator(base, schema))
        return self._sub[key][1].is_valid(instance)

    def resolve(self, base, ref):
        url, frag = urldefrag(urljoin(base, ref))
        frag = unquote(frag)
        doc = self.store[url]
        node = doc
        if frag:
            for tok in frag.lstrip("/").split("/"):
                tok = tok.replace("~1", "/").replace("~0", "~")
                node = node[int(tok)] if isinstance(node, list) else node[tok]
        return url, node

    def expand(self, base, schema):
        """schema and everything its $ref/allOf chain applies at the same place,
        as (base uri, schema) pairs."""
        out, todo = [], [(base, schema)]
        while todo:
            b, s = todo.pop(0)
            if isinstance(s, dict) and "$id" in s:
                b = urldefrag(urljoin(b, s["$id"]))[0]
            if any(x is s for _bb, x in out):
                continue
            out.append((b, s))
            if isinstance(s, dict):
                if "$ref" in s:
                    todo.append(self.resolve(b, s["$ref"]))
                for sub in s.get("allOf", []):
                    todo.append((b, sub))
        return out

    def annotate(self, stem, instance):
        """Map tokens -> Loc for every instance location the schema reaches."""
        _p, base, doc = self.files[stem]
        locs = {}
        self._walk(base, doc, instance, (), locs)
        return locs

    def _walk(self, base, schema, inst, tokens, locs):
        loc = locs.setdefault(tokens, Loc())
        for b, s in self.expand(base, schema):
            loc.nodes.append(s)
            loc.bases.append(b)
            if not isinstance(s, dict):
                continue
            for kw in ("oneOf", "anyOf"):
                if kw not in s:
                    continue
                loc.unions.append(self._union_info(b, s[kw]))
                for branch in s[kw]:
                    if self.is_valid_sub(b, branch, inst):
                        self._walk(b, branch, inst, tokens, locs)
            if isinstance(inst, dict):
                props = s.get("properties", {})
                for k, x in inst.items():
                    if k in props:
                        self._walk(b, props[k], x, tokens + (k,), locs)
                    elif "additionalProperties" in s:
                        self._walk(b, s["additionalProperties"], x, tokens + (k,), locs)
            if isinstance(inst, list) and "items" in s:
                for i, x in enumerate(inst):
                    self._walk(b, s["items"], x, tokens + (i,), locs)

    def _union_info(self, base, branches):
        """{property: [const value of each branch that has one]} for the
        const-tagged properties of the branches."""
        tags = {}
        for branch in branches:
            for b, s in self.expand(base, branch):
                if not isinstance(s, dict):
                    continue
                for name, p in s.get("properties", {}).items():
                    for _bb, ps in self.expand(b, p):
                        if isinstance(ps, dict) and "const" in ps:
                            tags.setdefault(name, [])
                            if ps["const"] not in tags[name]:
                                tags[name].append(ps["const"])
        return tags

    def oracle(self, stem, data):
        """(valid, limit or None) for the document bytes."""
        try:
            text = data.decode("utf-8")
            instance = json.loads(text, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False, None
        try:
            valid = self.validators[stem].is_valid(instance)
        except RecursionError:
            valid = False
        except (OverflowError, ValueError):
            # jsonschema's multipleOf fails on an infinite float (1e400): a
            # number C++ cannot hold, rejected as a representation limit.
            if not non_finite(instance):
                raise
            return False, LIMIT_DOUBLE
        if not valid:
            return False, None
        if max_depth(instance) > MAX_DEPTH:
            return False, LIMIT_DEPTH
        if non_finite(instance):
            return False, LIMIT_DOUBLE
        if has_lone_surrogate(instance):
            return False, LIMIT_SURROGATE
        if not has_big_number(instance):
            return True, None
        for tokens, loc in self.annotate(stem, instance).items():
            if "integer" in loc.types():
                v = get_at(instance, tokens)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and \
                        not INT64_MIN <= v <= INT64_MAX:
                    return False, LIMIT_INT64
        return True, None


def has_lone_surrogate(v):
    """True when a string or key of v holds a code point in U+D800..U+DFFF
    (json.loads keeps escaped lone surrogates; UTF-8 cannot encode them)."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in x):
            return True
    return False


def has_big_number(v):
    """True when some number of v is outside the int64 range."""
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
        elif isinstance(x, (int, float)) and not isinstance(x, bool) and \
                not INT64_MIN <= x <= INT64_MAX:
            return True
    return False


def get_at(doc, tokens):
    for t in tokens:
        doc = doc[t]
    return doc


def is_any_schema(nodes):
    """True when the (expanded) schema nodes accept every instance."""
    if any(n is False for n in nodes):
        return False
    return all(not (set(n) & ASSERTIONS) for n in nodes if isinstance(n, dict))


class Loc:
    """What the schema says about one instance location."""

    def __init__(self):
        self.nodes = []
        self.bases = []  # base URI of each node
        self.unions = []

    def dicts(self):
        return [n for n in self.nodes if isinstance(n, dict)]

    def key(self):
        return tuple(id(n) for n in self.nodes)

    def is_any(self):
        return is_any_schema(self.nodes)

    def types(self):
        out = []
        for n in self.dicts():
            t = n.get("type")
            for x in (t if isinstance(t, list) else [t] if t else []):
                if x not in out:
                    out.append(x)
        return out

    def bound(self, kw, pick):
        vals = [n[kw] for n in self.dicts() if kw in n]
        if not vals:
            return None
        b = pick(vals)
        # Counts may be written as integral floats (maxItems: 2.0).
        if kw in ("minItems", "maxItems", "minLength", "maxLength") and isinstance(b, float):
            b = int(b)
        return b

    def has(self, kw, value=None):
        return any(kw in n and (value is None or n[kw] == value) for n in self.dicts())


# --------------------------------------------------------------------------
# Document generation.

def warn(msg):
    print(f"make_corpus.py: warning: {msg}", file=sys.stderr)


class Cand:
    """A candidate document. keep: always emitted; dedupe: emitted at most once
    per schema (the first time it is chosen)."""

    __slots__ = ("name", "data", "keep", "dedupe")

    def __init__(self, name, data, keep=False, dedupe=None):
        self.name, self.data, self.keep, self.dedupe = name, data, keep, dedupe


def text_of_length(n, style):
    """A string of n code points; astral/mixed styles have more bytes than
    code points (and more UTF-16 units than code points)."""
    if n <= 0:
        return ""
    if style == "ascii":
        return "a" * n
    if style == "astral":
        return "\U0001F600" * n
    if style == "mixed":
        return ("e\u00e9\U0001F600" * n)[:n]
    # "long": mostly ASCII, ending in multi-byte characters.
    tail = "\u00e9\U0001F600"[: n]
    return "a" * (n - len(tail)) + tail


# Kept in every schema with a date-time (then DATE_TIMES_PER_SCHEMA of the rest).
DATE_TIMES_CORE = [
    "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z",
    "2024-05-01T12:30:00", "2024-05-01t12:30:00z", "2023-12-31T23:59:60Z",
    "2024-05-01T14:30:00+02:00", "2024-05-01T12:30:00.250Z",
]
DATE_TIMES_PER_SCHEMA = 8
DATE_TIMES = [
    "2024-05-01T12:30:00Z", "2024-05-01T12:30:00.250Z", "2024-05-01t12:30:00z",
    "2024-05-01T14:30:00+02:00", "2024-05-01T07:30:00-05:00", "2024-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z", "2023-12-31T23:59:60Z", "2024-05-01T12:30:00.123456789012Z",
    "2024-05-01T12:30:00+23:59", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.9-00:00",
    # invalid ones
    "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
    "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:30:61Z",
    "2024-05-01T12:30:00", "2024-05-01T12:30:00.Z", "2024-05-01 12:30:00Z",
    "2024-05-01T12:30Z", "2024-5-01T12:30:00Z", "2024-05-01T12:30:00+0200",
    "2024-05-01T12:30:00+24:00", "2024-05-01T12:30:00+02:60", "2024-05-01T12:30:00ZZ",
    "2024-05-01T12:30:00Z ", " 2024-05-01T12:30:00Z", "2024-05-01T12:30:00Z\n",
    "2024-00-01T00:00:00Z", "2024-13-01T00:00:00Z", "2024-05-00T00:00:00Z",
    "2024-05-01", "2024-05-01T12:30:00,5Z", "\uff12024-05-01T12:30:00Z",
    "2024-05-01T12:30:00\u0660Z", "",
]

PATTERN_PROBES = [
    "A-z.0_9:@", "a", "-", "job:42", "run:nightly-2024-05-01", "alerts", "health",
    "job:", "jobs:1", "alertsx", "queue:a b", "tenant:\u00e9", "job:a\n", "alerts\n",
    "\nalerts", "/", "/a~0b~1c", "/a~2", "~", "a/b", "/a/", "/\u00e9",
]

UTF8_PROBES = [
    # (name, bytes appended inside the string)
    ("utf8:invalid-byte-ff", b"\xff"),
    ("utf8:overlong-c0af", b"\xc0\xaf"),
    ("utf8:encoded-surrogate-eda080", b"\xed\xa0\x80"),
    ("utf8:truncated-e282", b"\xe2\x82"),
    ("utf8:above-10ffff-f4908080", b"\xf4\x90\x80\x80"),
    ("utf8:stray-continuation-80", b"\x80"),
    ("escape:lone-high-surrogate-ud800", b"\\ud800"),
    ("escape:lone-low-surrogate-udc00", b"\\udc00"),
    ("escape:reversed-pair-ude00-ud83d", b"\\ude00\\ud83d"),
    ("escape:surrogate-pair-ud83d-ude00", b"\\ud83d\\ude00"),
    ("escape:nul-u0000", b"\\u0000"),
    ("escape:solidus", b"\\/"),
    ("escape:ascii-u0041", b"\\u0041"),
    ("escape:bad-escape-x", b"\\x41"),
    ("raw:control-char-01", b"\x01"),
    ("raw:tab", b"\t"),
    ("raw:multibyte", "\u00e9\U0001F600".encode()),
]

NUMBER_PROBES = [
    ("number:1.5", "1.5"), ("number:-1", "-1"), ("number:0", "0"), ("number:1.0", "1.0"),
    ("number:1e300", "1e300"), ("number:huge-int", "123456789012345678901234567890"),
    ("number:1e400", "1e400"), ("number:-1e400", "-1e400"), ("number:-0", "-0"),
    ("number:int64-max+1", "9223372036854775808"),
    ("number:int64-min-1", "-9223372036854775809"),
]

NUMBER_SYNTAX = [
    "01", "1.", ".5", "+1", "0x10", "1e", "-", "NaN", "Infinity", "-Infinity", "1e-400",
    "1E2", "1e+2", "-0.0", "2.5e-1", "1\u00a0",
]


class Generator:
    def __init__(self, schemas):
        self.s = schemas
        self.once_seen = set()  # "once" keys already kept for the current schema

    def start_stem(self, stem):
        self.once_seen = set()
        rest = [d for d in DATE_TIMES if d not in DATE_TIMES_CORE]
        self.date_times = random.Random(f"{SEED}:{stem}:date-times").sample(
            rest, DATE_TIMES_PER_SCHEMA)

    # Each method appends Cand objects; names are "<kind>@<pointer>".

    def for_stem(self, stem, samples):
        """Documents that depend only on the schema, not on a sample."""
        out = []
        add = lambda name, data, **kw: out.append(Cand(name, data, keep=True, **kw))
        add("empty-document", b"")
        add("whitespace-only", b" \n\t\r")
        for text in ("null", "true", "0", '"x"', "[]", "{}", "{", "[", "}"):
            add(f"document:{text}", text.encode())
        add("deep-root-array:70", dump(nest(70, 0, "array")))
        add("deep-root-array:500", b"[" * 500 + b"]" * 500)
        add("deep-root-array:500-unclosed", b"[" * 500)
        if samples:
            compact = dump(samples[0])
            add("utf8-bom-before-document", b"\xef\xbb\xbf" + compact)
            add("nul-after-document", compact + b"\x00")
            add("two-documents", compact + b" " + compact)
            add("truncated-last-byte", compact[:-1])
            add("truncated-half", compact[: len(compact) // 2])
            add("comment-after-document", compact + b" /* c */")
            add("trailing-comma-in-object", compact[:-1] + b",}" if compact.endswith(b"}") else compact + b",")
            add("single-quoted-keys", compact.replace(b'"', b"'"))
        return out

    def for_sample(self, stem, idx, sample):
        s = self.s
        locs = s.annotate(stem, sample)
        out = []
        values = walk_values(sample)
        rng = random.Random(f"{SEED}:{stem}:{idx}:gen")

        def add(name, doc_or_bytes, keep=False, dedupe=None, tokens=None, once=None):
            """once: keep this document if it is the first with this key for
            the schema (so that each probe is certain to appear somewhere)."""
            data = doc_or_bytes if isinstance(doc_or_bytes, bytes) else dump(doc_or_bytes)
            if tokens is not None:
                name = f"{name}@{pointer(tokens)}"
            if once is not None and once not in self.once_seen:
                self.once_seen.add(once)
                keep = True
            out.append(Cand(name, data, keep, dedupe))

        base_for = self.contexts(stem, sample)

        def with_value(tokens, v):
            return set_at(base_for(tokens), tokens, v)

        compact = dump(sample)
        add("sample", compact, keep=True)
        add("sample-pretty", dump(sample, pretty=True), keep=True)
        add("sample-ascii-escaped", dump(sample, ascii_only=True), keep=True)
        skeleton = base_for(())  # the sample itself unless it is large
        compact = dump(skeleton)
        add("sample-pretty-crlf", dump(skeleton, pretty=True).replace(b"\n", b"\r\n"))
        add("leading-whitespace", b" \t\r\n" + compact)
        for name, tail in (("x", b"x"), ("space", b" "), ("newline", b"\n"), ("object", b"{}"),
                           ("comma", b","), ("bracket", b"]"), ("line-comment", b"//c")):
            add(f"trailing:{name}", compact + tail, once=("trailing", name))

        any_tokens = self.any_slots(values, locs)
        for tokens, value in values:
            loc = locs.get(tokens)
            if loc is None:  # inside an any-typed value
                loc = Loc()
            lkey = loc.key()
            inside_any = tokens not in locs
            self._types(add, with_value, tokens, value)
            if isinstance(value, dict):
                self._object(add, base_for, tokens, value)
            if isinstance(value, list):
                self._array(add, with_value, tokens, value, loc)
            if isinstance(value, str):
                add("string:zzz-unknown", with_value(tokens, "zzz-unknown"), tokens=tokens)
                self._string(add, with_value, tokens, value, loc, lkey, inside_any, rng)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._number(add, with_value, tokens, value, loc, lkey)
            for union in loc.unions:
                base = base_for(tokens)
                self._union(add, base, tokens, get_at(base, tokens), union, lkey)

        # Deep nesting and representation limits in any-typed values, each
        # once per schema and any-typed place (present in the sample or not).
        for tokens, lkey in any_tokens:
            def probe(name, value, keep=True):
                key = ("any", lkey, name)
                add(name, with_value(tokens, value), tokens=tokens, dedupe=key,
                    once=key if keep else None)

            outer = len(tokens)  # containers around the value at tokens
            for total, kind in ((20, "array"), (40, "mixed"), (64, "array"), (65, "array"),
                                (70, "mixed")):
                if total > outer:
                    probe(f"deep-any:total-depth-{total}", nest(total - outer, 1, kind))
            probe("any:1e400", Raw("1e400"))
            probe("any:[-1e400]", [Raw("-1e400")])
            probe("any:400-digit-integer", Raw("1" + "0" * 400))
            probe("any:309-digit-integer", Raw("1" + "0" * 308))
            probe("any:1.8e308", Raw("1.8e308"))
            probe("any:1.7976931348623157e308", Raw("1.7976931348623157e308"))
            probe("any:huge-int", Raw("123456789012345678901234567890"))
            probe("any:2^63", 2**63, keep=False)
            probe("any:2^64", 2**64, keep=False)
            probe("any:-2^63-1", -2**63 - 1, keep=False)
            probe("any:1e-400", Raw("1e-400"), keep=False)
            probe("any:key-lone-surrogate", Obj([(Raw('"\\ud800"'), 1)]))
            probe("any:key-invalid-utf8", Obj([(Raw(b'"\xff"'), 1)]))
            probe("any:string-lone-surrogate", Raw('"\\udc00"'))
            probe("any:dup-keys", Obj([("k", 1), ("k", [2])]), keep=False)
            probe("any:NaN", Raw("NaN"), keep=False)
            probe("any:empty-key", {"": None}, keep=False)
        return out

    def any_slots(self, values, locs):
        """[(tokens, location key)] of any-typed places: values of the sample
        whose schema accepts anything, and absent optional members whose
        schema accepts anything."""
        out = []
        for tokens, value in values:
            loc = locs.get(tokens)
            if loc is None:
                continue
            if loc.is_any():
                out.append((tokens, loc.key()))
            if not isinstance(value, dict):
                continue
            for b, n in zip(loc.bases, loc.nodes):
                if not isinstance(n, dict):
                    continue
                for prop, ps in n.get("properties", {}).items():
                    if prop in value:
                        continue
                    expanded = self.s.expand(b, ps)
                    if is_any_schema([x for _bb, x in expanded]):
                        out.append((tokens + (prop,), tuple(id(x) for _bb, x in expanded)))
        return out

    def _types(self, add, with_value, tokens, value):
        if isinstance(value, str):
            add("type:string->number", with_value(tokens, 1), tokens=tokens)
        elif isinstance(value, bool):
            add("type:boolean->string", with_value(tokens, str(value).lower()), tokens=tokens)
            add("type:boolean->number", with_value(tokens, int(value)), tokens=tokens)
        elif isinstance(value, (int, float)):
            add("type:number->string", with_value(tokens, dump(value).decode()), tokens=tokens)
        elif isinstance(value, dict):
            add("type:object->array", with_value(tokens, []), tokens=tokens)
            add("type:object->array-of-values", with_value(tokens, list(value.values())),
                tokens=tokens)
        elif isinstance(value, list):
            add("type:array->object", with_value(tokens, {}), tokens=tokens)
        if value is not None:
            add("type:->null", with_value(tokens, None), tokens=tokens)
        if not isinstance(value, bool):
            add("type:->boolean", with_value(tokens, True), tokens=tokens)

    def _object(self, add, base_for, tokens, full):
        """full: the object at tokens in the whole sample."""
        for k in full:
            base = base_for(tokens + (k,))
            value = get_at(base, tokens)
            add("delete", delete_member(base, tokens + (k,)), tokens=tokens + (k,))
            good = value[k]
            bad = 12345 if isinstance(good, str) else "zzz-bad"
            others = [(kk, vv) for kk, vv in value.items() if kk != k]
            first = Obj([(k, bad)] + others + [(k, good)])
            last = Obj([(k, good)] + others + [(k, bad)])
            add("dup-key:bad-then-good", set_at(base, tokens, first), tokens=tokens + (k,))
            add("dup-key:good-then-bad", set_at(base, tokens, last), tokens=tokens + (k,))
            add("dup-key:same-value-twice",
                set_at(base, tokens, Obj(list(value.items()) + [(k, good)])), tokens=tokens + (k,))
        base = base_for(tokens)
        value = get_at(base, tokens)
        for name, extra in (("add-property:zz_unknown=0", 0), ("add-property:zz_unknown={}", {})):
            add(name, replace_at(base, tokens, lambda o, x=extra: {**o, "zz_unknown": x}),
                tokens=tokens)
        keys = list(value)
        if keys:
            k = keys[0]
            if k and ord(k[0]) < 0x10000:
                escaped = Raw('"\\u%04x' % ord(k[0]) + json.dumps(k[1:])[1:])
            else:
                escaped = Raw(json.dumps(k))
            add("key-first-char-escaped", set_at(base, tokens, Obj(
                [(escaped if kk == k else kk, vv) for kk, vv in value.items()])),
                tokens=tokens + (k,))
            add("key-invalid-utf8", set_at(base, tokens, Obj(
                [(Raw(json.dumps(k).encode()[:-1] + b'\xff"') if kk == k else kk, vv)
                 for kk, vv in value.items()])), tokens=tokens + (k,))
            if len(keys) > 1:
                rev = dict(reversed(list(value.items())))
                add("members-reversed", set_at(base, tokens, rev), tokens=tokens)

    def contexts(self, stem, sample):
        """base_for(tokens): the document that mutations at tokens start from.
        Small samples are used whole. In large ones every optional member that
        is not on the way to tokens is left out (the result is checked to be
        valid, else the whole sample is used), to keep the corpus small."""
        if len(dump(sample)) <= PRUNE_ABOVE:
            return lambda tokens: sample
        s = self.s
        skeleton = sample
        for tokens, _v in walk_values(sample):
            if not tokens or isinstance(tokens[-1], int):
                continue
            try:
                get_at(skeleton, tokens)
            except (KeyError, IndexError, TypeError):
                continue  # an ancestor is already gone
            smaller = delete_member(skeleton, tokens)
            if s.oracle(stem, dump(smaller))[0]:
                skeleton = smaller
        cache = {}

        def base_for(tokens):
            tokens = tuple(tokens)
            if tokens in cache:
                return cache[tokens]
            doc = skeleton
            for j in range(1, len(tokens) + 1):
                prefix = tokens[:j]
                try:
                    get_at(doc, prefix)
                    continue
                except (KeyError, IndexError, TypeError):
                    pass
                # Put the sample's member back where it was in the sample.
                key, original = prefix[-1], get_at(sample, prefix[:-1])
                doc = replace_at(doc, prefix[:-1], lambda o: {
                    k: (o[k] if k in o else original[k])
                    for k in original if k in o or k == key})
                break
            if doc is not skeleton and not s.oracle(stem, dump(doc))[0]:
                doc = sample
            cache[tokens] = doc
            return doc

        return base_for

    def _array(self, add, with_value, tokens, value, loc):
        lo = loc.bound("minItems", max)
        hi = loc.bound("maxItems", min)
        sizes = []
        for b in (lo, hi):
            if b is not None:
                sizes += [b - 1, b, b + 1]
        sizes += [0, 2 * len(value)]
        seen = []
        for n in sizes:
            if n < 0 or n in seen or n == len(value) or (n > 0 and not value):
                continue
            seen.append(n)
            items = [value[i % len(value)] for i in range(n)] if n else []
            edge = " (minItems %s, maxItems %s)" % (lo, hi) if lo is not None or hi is not None else ""
            add(f"items:count-{n}{edge}", with_value(tokens, items), tokens=tokens,
                once=("items", lo, hi, n) if edge else None)

    def _string(self, add, with_value, tokens, value, loc, lkey, inside_any, rng):
        lo = loc.bound("minLength", max)
        hi = loc.bound("maxLength", min)
        patterned = loc.has("pattern")
        lengths = []
        for b, tag in ((lo, "minLength"), (hi, "maxLength")):
            if b is None:
                continue
            for d in (-1, 0, 1):
                if b + d >= 0 and (b + d, tag) not in [(x, t) for x, _dd, t in lengths]:
                    lengths.append((b + d, d, tag))
        for n, d, tag in lengths:
            rel = f"{tag}{d:+d}" if d else tag
            if n > 256:
                # Long strings: at the bound and one over, once per schema and
                # length, mostly ASCII so that the corpus stays small.
                if d < 0:
                    continue
                key = ("long", n)
                add(f"length:{rel}={n}(long,multibyte-tail)",
                    with_value(tokens, text_of_length(n, "long")), tokens=tokens,
                    dedupe=key, once=key)
                continue
            add(f"length:{rel}={n}(ascii)", with_value(tokens, text_of_length(n, "ascii")),
                tokens=tokens, dedupe=(lkey, "ascii", n), once=("len", lo, hi, "ascii", n))
            if not patterned:
                add(f"length:{rel}={n}(astral)", with_value(tokens, text_of_length(n, "astral")),
                    tokens=tokens, dedupe=(lkey, "astral", n), once=("len", lo, hi, "astral", n))
                add(f"length:{rel}={n}(mixed)", with_value(tokens, text_of_length(n, "mixed")),
                    tokens=tokens, dedupe=(lkey, "mixed", n))
                if n <= 32:
                    add(f"length:{rel}={n}(escaped-surrogate-pairs)",
                        with_value(tokens, Raw('"' + "\\ud83d\\ude00" * n + '"')),
                        tokens=tokens, dedupe=(lkey, "escaped", n),
                        once=("len", lo, hi, "escaped", n))
        if patterned:
            pats = tuple(n["pattern"] for n in loc.dicts() if "pattern" in n)
            own = [value + "\n", value + " ", value + "\u00e9", "\u00e9" + value]
            picked = rng.sample(PATTERN_PROBES, 6)
            for probe in own + PATTERN_PROBES:
                once = None if probe in own else ("pattern", pats, probe)
                if probe in own or probe in picked or once not in self.once_seen:
                    add(f"pattern:{json.dumps(probe)}", with_value(tokens, probe), tokens=tokens,
                        dedupe=(lkey, "pattern", probe), once=once)
        if loc.has("format", "date-time"):
            for dt in DATE_TIMES_CORE + [d for d in DATE_TIMES if d not in DATE_TIMES_CORE]:
                once = ("date-time", dt) if dt in DATE_TIMES_CORE or dt in self.date_times else None
                add(f"date-time:{json.dumps(dt)}", with_value(tokens, dt), tokens=tokens,
                    dedupe=("date-time", dt), once=once)
            for dt in ("2024-02-29T23:59:60.5+23:59", "2023-02-29T00:00:00Z",
                       "2024-05-01T24:00:00Z", "2024-05-01T12:30:00"):
                add(f"date-time:{json.dumps(dt)}", with_value(tokens, dt), tokens=tokens,
                    dedupe=(lkey, "date-time", dt))
        quoted = dump(value)[:-1]
        free_text = not (patterned or loc.has("enum") or loc.has("const") or loc.has("format"))
        picked = rng.sample(UTF8_PROBES, 4)
        for name, raw in UTF8_PROBES:
            once = ("utf8", free_text, inside_any, name)
            if (name, raw) in picked or once not in self.once_seen:
                add(name, with_value(tokens, Raw(quoted + raw + b'"')), tokens=tokens,
                    dedupe=(lkey, inside_any, name), once=once)

    def _number(self, add, with_value, tokens, value, loc, lkey):
        types = loc.types()
        integral = "integer" in types and "number" not in types
        for name, text in NUMBER_PROBES:
            add(name, with_value(tokens, Raw(text)), tokens=tokens, dedupe=(lkey, name),
                once=("number", integral, name))
        unbounded_above = loc.bound("maximum", min) is None and loc.bound("exclusiveMaximum", min) is None
        unbounded_below = loc.bound("minimum", max) is None and loc.bound("exclusiveMinimum", max) is None
        if integral and (unbounded_above or unbounded_below):
            # Integers at the edges of int64 where the schema allows them.
            for text in ("9223372036854775807", "9223372036854775808", "-9223372036854775808",
                         "-9223372036854775809", "18446744073709551616", "1e19", "-1e19"):
                key = ("int64", lkey, text)
                add(f"int64-edge:{text}", with_value(tokens, Raw(text)), tokens=tokens,
                    dedupe=key, once=key)
        if isinstance(value, int):
            add("number:int-as-decimal", with_value(tokens, Raw(f"{value}.0")), tokens=tokens)
            add("number:int-as-exponent", with_value(tokens, Raw(f"{value}e0")), tokens=tokens,
                dedupe=(lkey, "exp"))
            add("number:int-plus-tiny-fraction",
                with_value(tokens, Raw(f"{value}.000000000000000000001")), tokens=tokens,
                dedupe=("tiny-fraction",), once=("tiny-fraction",))
            add("number:int-plus-half", with_value(tokens, Raw(f"{value}.5")), tokens=tokens,
                dedupe=(lkey, "half"))
        for text in NUMBER_SYNTAX:
            add(f"number-syntax:{json.dumps(text)}", with_value(tokens, Raw(text)), tokens=tokens,
                dedupe=("syntax", text), once=("syntax", text))
        probes = []
        for kw, pick, side in (("minimum", max, -1), ("exclusiveMinimum", max, -1),
                               ("maximum", min, +1), ("exclusiveMaximum", min, +1)):
            b = loc.bound(kw, pick)
            if b is None:
                continue
            if integral:
                for d in (-1, 0, 1):
                    probes.append((f"{kw}{d:+d}" if d else kw, str(int(b) + d)))
                if abs(b) < 2**53:
                    probes.append((f"{kw}-as-decimal", f"{int(b)}.0"))
            else:
                b = float(b)
                probes.append((kw, repr(b)))
                probes.append((f"{kw}-next-below", repr(math.nextafter(b, -math.inf))))
                probes.append((f"{kw}-next-above", repr(math.nextafter(b, math.inf))))
                probes.append((f"{kw}{side * 0.5:+}", repr(b + side * 0.5)))
                probes.append((f"{kw}{-side * 0.5:+}", repr(b - side * 0.5)))
        for name, text in probes:
            add(f"bound:{name}={text}", with_value(tokens, Raw(text)), tokens=tokens,
                dedupe=(lkey, "bound", text), once=("bound", integral, name, text))

    def _union(self, add, sample, tokens, value, union, lkey):
        """Union probes, each kept once per schema for every (union location,
        own tag): later samples of the same branch only add random picks."""
        if not isinstance(value, dict):
            return
        for prop, tags in union.items():
            if prop not in value:
                continue
            t = tokens + (prop,)
            own = value[prop]

            def probe(kind, doc):
                key = ("union", lkey, prop, json.dumps(own), kind)
                add(f"union:{kind}", doc, tokens=t, dedupe=key, once=key)

            probe("missing-discriminator", delete_member(sample, t))
            probe("unknown-discriminator", set_at(sample, t, "zzz-unknown"))
            if isinstance(own, str):
                probe("discriminator-uppercase", set_at(sample, t, own.upper()))
            others = [o for o in tags if o != own]
            for other in others:
                probe(f"other-discriminator={json.dumps(other)}", set_at(sample, t, other))
            rest = [(k, v) for k, v in value.items() if k != prop]
            probe("discriminator-last", set_at(sample, tokens, Obj(rest + [(prop, own)])))
            if others:
                probe("dup-discriminator-other-then-own",
                      set_at(sample, tokens, Obj([(prop, others[0])] + rest + [(prop, own)])))
                probe("dup-discriminator-own-then-other",
                      set_at(sample, tokens, Obj([(prop, own)] + rest + [(prop, others[0])])))


# --------------------------------------------------------------------------
# Selection and output.

def select(cands, results, stem, idx, target):
    """Keep the 'keep' documents and a seeded random pick of the rest, leaning
    towards WANT_VALID_FRACTION valid documents."""
    rng = random.Random(f"{SEED}:{stem}:{idx}:select")
    chosen = [i for i, c in enumerate(cands) if c.keep]
    rest = [i for i, c in enumerate(cands) if not c.keep]
    rng.shuffle(rest)
    room = max(0, target - len(chosen))
    valid_now = sum(1 for i in chosen if results[i][0])
    want_valid = max(0, round((len(chosen) + room) * WANT_VALID_FRACTION) - valid_now)
    pool_valid = [i for i in rest if results[i][0]]
    pool_invalid = [i for i in rest if not results[i][0]]
    take_valid = min(want_valid, len(pool_valid), room)
    take_invalid = min(room - take_valid, len(pool_invalid))
    take_valid = min(room - take_invalid, len(pool_valid))
    chosen += pool_valid[:take_valid] + pool_invalid[:take_invalid]
    return sorted(chosen)


def load_samples(stem, schema_dir):
    found, docs = [], []
    for path in (REPO / "tests" / "data" / "samples" / f"{stem}.json",
                 Path(schema_dir) / f"{stem}.samples.json"):
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                warn(f"{path}: not a JSON array; ignored")
                continue
            found.append(path)
            docs.extend(data)
    return found, docs


def generate(schemas, gen):
    """[(stem, [(idx, sample or None, [(Cand, (valid, limit))])])] in the
    order the documents are considered (stem-level ones, then samples from the
    smallest up)."""
    plan = []
    for stem in sorted(schemas.files):
        path = schemas.files[stem][0]
        found, samples = load_samples(stem, path.parent)
        if not found:
            warn(f"{stem}: no samples (tests/data/samples/{stem}.json or "
                 f"{path.parent}/{stem}.samples.json); skipped")
            continue
        good = []
        for i, sample in enumerate(samples):
            ok, limit = schemas.oracle(stem, dump(sample))
            if not ok:
                warn(f"{stem}: sample {i} is not valid per the oracle"
                     f"{' (' + limit + ')' if limit else ''}; skipped")
                continue
            good.append((i, sample))
        if not good:
            warn(f"{stem}: no valid samples; skipped")
            continue
        # Smallest samples first: the probes kept once per schema then land
        # in the smallest document that has the field.
        order = sorted(good, key=lambda p: (len(dump(p[1])), p[0]))
        gen.start_stem(stem)
        groups = [(-1, None, gen.for_stem(stem, [s for _i, s in good]))]
        groups += [(i, s, gen.for_sample(stem, i, s)) for i, s in order]
        cache = {}
        judged = []
        for idx, sample, cands in groups:
            rows = []
            for c in cands:
                if c.data not in cache:
                    cache[c.data] = schemas.oracle(stem, c.data)
                rows.append((c, cache[c.data]))
            judged.append((idx, sample, rows))
        plan.append((stem, judged))
    return plan


def choose(plan, bytes_per_sample, min_per_sample):
    """The corpus lines for a per-sample byte budget, and statistics."""
    lines, stats = [], {}
    for stem, groups in plan:
        # Documents already written for this schema (bytes, dedupe keys).
        seen_bytes, seen_keys = set(), set()
        st = stats.setdefault(stem, [0, 0, 0])
        out_lines = {}
        for idx, sample, rows in groups:
            unique, results, here_bytes, here_keys = [], [], set(), set()
            for c, res in rows:
                if c.data in seen_bytes or c.data in here_bytes or \
                        (c.dedupe is not None and (c.dedupe in seen_keys or c.dedupe in here_keys)):
                    continue
                here_bytes.add(c.data)
                if c.dedupe is not None:
                    here_keys.add(c.dedupe)
                unique.append(c)
                results.append(res)
            if sample is None:
                chosen = list(range(len(unique)))
            else:
                lengths = sorted(len(c.data) for c in unique)
                size = max(1, lengths[len(lengths) // 2]) if lengths else 1
                target = max(min_per_sample, min(TARGET_PER_SAMPLE, bytes_per_sample // size))
                chosen = select(unique, results, stem, idx, target)
            for i in chosen:
                c, (valid, limit) = unique[i], results[i]
                seen_bytes.add(c.data)
                if c.dedupe is not None:
                    seen_keys.add(c.dedupe)
                name = c.name if sample is None else f"s{idx} {c.name}"
                rec = {"schema": stem, "doc_hex": c.data.hex(), "valid": valid, "mutation": name}
                if limit:
                    rec["limit"] = limit
                out_lines.setdefault(idx, []).append(
                    json.dumps(rec, ensure_ascii=True, separators=(",", ":")))
                st[0] += 1
                st[1] += valid
                st[2] += bool(limit)
        for idx in sorted(out_lines):
            lines.extend(out_lines[idx])
    return lines, stats


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON-lines corpus to write")
    ap.add_argument("--schema-dir", action="append", required=True,
                    help="directory of <stem>.schema.json files (repeatable)")
    args = ap.parse_args(argv)

    schemas = SchemaSet(args.schema_dir)
    plan = generate(schemas, Generator(schemas))
    # Lower the per-sample byte budget, then the per-sample minimum, until
    # the corpus fits (the documents kept once per schema always stay).
    budget, least = BYTES_PER_SAMPLE, MIN_PER_SAMPLE
    while True:
        lines, stats = choose(plan, budget, least)
        size = sum(len(line) + 1 for line in lines)
        if size <= MAX_CORPUS_BYTES or least <= 10:
            break
        if budget >= 1000:
            budget = budget * 7 // 8
        else:
            least -= 5

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(line + "\n" for line in lines)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, out)

    total = sum(v[0] for v in stats.values())
    valid = sum(v[1] for v in stats.values())
    limits = sum(v[2] for v in stats.values())
    per = ", ".join(f"{k} {v[0]} ({v[1]} valid)" for k, v in stats.items())
    print(f"make_corpus.py: {out}: {total} documents, {valid} valid "
          f"({100.0 * valid / max(1, total):.1f}%), {limits} limit overrides, "
          f"{len(text)} bytes (per sample: {least}..{TARGET_PER_SAMPLE} documents, "
          f"{budget} bytes); {per}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
