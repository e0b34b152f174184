"""Tests of jobwatch-codegen itself: fixtures, golden files, determinism, refusals.

Run from the repository root (Debian's python3 has jinja2 and jsonschema):

    /usr/bin/python3 -m unittest discover -s codegen/tests -p 'test_*.py' -v

What is checked:
  * the fixture schemas in fixtures/ are valid draft 2020-12, describe every
    property, and together use every construct the generator supports;
  * each fixture's samples (fixtures/<stem>.samples.json, also read by the C++
    round-trip and oracle tests) are valid per python3-jsonschema, and the
    fixtures' constraints decide edge cases as intended;
  * the generated C++ (and TypeScript, once its templates exist) equals the
    golden files in golden/; JOBWATCH_UPDATE_GOLDEN=1 rewrites them instead;
  * output is byte-identical from run to run and whatever the input order;
  * each schema in refuse/ is refused with status 1, one clear message naming
    the file and the JSON Pointer, and no output written;
  * every schema in schemas/ generates, and --help works.

Only the standard library and python3-jsonschema (4.10 or later) are used.
"""

import copy
import difflib
import itertools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

from jsonschema import Draft202012Validator, FormatChecker

with warnings.catch_warnings():
    # Deprecated from jsonschema 4.18 on, but the API that Debian's 4.10 has.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonschema import RefResolver

ROOT = pathlib.Path(__file__).resolve().parents[2]
CODEGEN_DIR = ROOT / "codegen"
GENERATOR = CODEGEN_DIR / "jobwatch-codegen"
TESTS = CODEGEN_DIR / "tests"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
REFUSE = TESTS / "refuse"
SCHEMAS = ROOT / "schemas"
TS_TEMPLATE = CODEGEN_DIR / "templates" / "ts_module.ts.j2"
UPDATE_GOLDEN = os.environ.get("JOBWATCH_UPDATE_GOLDEN") == "1"
NAMESPACE = "fixtures"

sys.path.insert(0, str(CODEGEN_DIR))
from jobwatch_codegen import ecma_regex, model  # noqa: E402

TS_MISSING = "no TypeScript templates yet (codegen/templates/ts_module.ts.j2 does not exist)"


def languages():
    return ["cpp", "ts"] if TS_TEMPLATE.exists() else ["cpp"]


def fixture_paths():
    return sorted(FIXTURES.glob("*.schema.json"))


def stem_of(path):
    return path.name[: -len(".schema.json")]


def run_codegen(*args):
    """Runs the generator as users do; sys.executable is the python with jinja2."""
    return subprocess.run([sys.executable, str(GENERATOR), *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def generate(test, lang, out_dir, paths, namespace=NAMESPACE):
    """Generates into out_dir; returns {file name: bytes}."""
    r = run_codegen("--lang", lang, "--namespace", namespace, "--out", out_dir, *paths)
    test.assertEqual(r.returncode, 0, f"jobwatch-codegen --lang {lang} failed:\n{r.stderr}")
    test.assertEqual(r.stderr, "")
    return read_tree(out_dir)


def read_tree(directory):
    directory = pathlib.Path(directory)
    if not directory.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# ---------------------------------------------------------------------------
# Reference validation: python3-jsonschema with RFC 3339 date-time and local $refs

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))", re.ASCII)


def is_date_time(value):
    """RFC 3339 date-time as jobwatch checks it: offset required, leap second allowed."""
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.fullmatch(value)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not 1 <= month <= 12 or not 1 <= day <= days[month - 1]:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    return m.group(7) is None or (int(m.group(7)) <= 23 and int(m.group(8)) <= 59)


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date-time")(is_date_time)


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


DOCS = {stem_of(p): load(p) for p in fixture_paths()}
STORE = {doc["$id"]: doc for doc in DOCS.values()}


def _no_network(uri):
    raise AssertionError(f"$ref to a schema that is not a fixture: {uri}")


def validator(stem, schema=None, store=None):
    """A validator for fixture `stem` (or `schema` in its scope) resolving $refs among the fixtures only."""
    store = STORE if store is None else store
    root = store[DOCS[stem]["$id"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = RefResolver(base_uri=root["$id"], referrer=root, store=store,
                               handlers={"http": _no_network, "https": _no_network})
        return Draft202012Validator(root if schema is None else schema, resolver=resolver,
                                    format_checker=FORMAT_CHECKER)


def errors(v, instance):
    return [f"{e.json_path}: {e.message}" for e in v.iter_errors(instance)]


def walk(node, pointer=""):
    """Yields (pointer, schema, parent) for every subschema below node, node included."""

    def go(node, pointer, parent):
        yield pointer, node, parent
        if not isinstance(node, dict):
            return
        for key in ("properties", "$defs"):
            for name, sub in node.get(key, {}).items():
                escaped = name.replace("~", "~0").replace("/", "~1")
                yield from go(sub, f"{pointer}/{key}/{escaped}", node)
        for key in ("items", "additionalProperties"):
            if key in node:
                yield from go(node[key], f"{pointer}/{key}", node)
        for key in ("oneOf", "anyOf"):
            for i, sub in enumerate(node.get(key, [])):
                yield from go(sub, f"{pointer}/{key}/{i}", node)

    yield from go(node, pointer, None)


def all_subschemas():
    for stem, doc in DOCS.items():
        for pointer, node, parent in walk(doc):
            yield stem, pointer, node, parent


def properties():
    """(stem, pointer, name, schema, required) of every property in the fixtures."""
    for stem, pointer, node, _ in all_subschemas():
        if isinstance(node, dict) and isinstance(node.get("properties"), dict):
            for name, sub in node["properties"].items():
                yield stem, pointer, name, sub, name in node.get("required", [])


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)


def resolve(stem, ref):
    """(stem, pointer) that a fixture's $ref names."""
    file, _, fragment = ref.partition("#")
    return (stem_of(pathlib.Path(file)) if file else stem), fragment


def load_samples(stem):
    return load(FIXTURES / f"{stem}.samples.json")


# ---------------------------------------------------------------------------


class FixtureSchemaTest(unittest.TestCase):
    def test_there_are_four_to_six_fixtures(self):
        self.assertTrue(4 <= len(DOCS) <= 6, sorted(DOCS))

    def test_fixtures_are_valid_draft_2020_12(self):
        for stem, doc in DOCS.items():
            with self.subTest(stem=stem):
                self.assertEqual(doc.get("$schema"), "https://json-schema.org/draft/2020-12/schema")
                self.assertEqual(doc.get("$id"), f"https://jobwatch.dev/fixtures/{stem}.schema.json")
                Draft202012Validator.check_schema(doc)

    def test_every_property_has_a_description(self):
        for stem, pointer, name, sub, _ in properties():
            with self.subTest(stem=stem, pointer=pointer, property=name):
                self.assertIsInstance(sub, dict)
                self.assertTrue(isinstance(sub.get("description"), str) and sub["description"].strip())

    def test_every_keyword_the_generator_knows_is_used(self):
        used = set()
        for _, _, node, _ in all_subschemas():
            if isinstance(node, dict):
                used |= node.keys()
        missing = (model.ASSERTIONS | model.ANNOTATIONS) - used
        self.assertEqual(missing, set(), "no fixture uses these keywords the generator accepts")

    def test_every_supported_construct_is_exercised(self):
        props = list(properties())
        dicts = [n for _, _, n, _ in all_subschemas() if isinstance(n, dict)]
        patterns = [n["pattern"] for n in dicts if "pattern" in n]
        annotation_only = model.ANNOTATIONS

        def nullable(s):
            return isinstance(s, dict) and isinstance(s.get("type"), list) and "null" in s["type"]

        def is_ref(s, pred):
            return isinstance(s, dict) and isinstance(s.get("$ref"), str) and pred(s["$ref"])

        def items(pred):
            return any(pred(n["items"]) for n in dicts if n.get("type") == "array" and "items" in n)

        def default(pred):
            return any(isinstance(s, dict) and "default" in s and pred(stem, s, s["default"])
                       for stem, _, _, s, _ in props)

        def enum_ref(stem, s):
            if "$ref" not in s:
                return False
            target_stem, pointer = resolve(stem, s["$ref"])
            return "enum" in model.Builder.node_at(DOCS[target_stem], pointer)

        branches = {resolve(stem, b["$ref"]) for stem, _, n, _ in all_subschemas() if isinstance(n, dict)
                    for b in n.get("oneOf", []) + n.get("anyOf", [])}

        checks = {
            "required nullable": any(nullable(s) and req for *_, s, req in props),
            "optional nullable": any(nullable(s) and not req for *_, s, req in props),
            '["null", T] order': any(nullable(s) and s["type"][0] == "null" for *_, s, _ in props),
            "nullable object": any(nullable(n) and "object" in n["type"] for n in dicts),
            "additionalProperties false": any(n.get("additionalProperties") is False for n in dicts),
            "additionalProperties absent (open object)": any(
                "properties" in n and "additionalProperties" not in n for n in dicts),
            "additionalProperties schema (map)": any(
                isinstance(n.get("additionalProperties"), dict) and n["additionalProperties"].keys() - annotation_only
                for n in dicts),
            "additionalProperties {} (object of anything)": any(n.get("additionalProperties") == {} for n in dicts),
            "array of scalars": items(lambda i: isinstance(i, dict) and i.get("type") in ("string", "number")),
            "array of inline objects": items(lambda i: isinstance(i, dict) and "properties" in i),
            "nested arrays": items(lambda i: isinstance(i, dict) and i.get("type") == "array"),
            "items true": items(lambda i: i is True),
            "array of a cross-file struct": items(lambda i: is_ref(i, lambda r: r.endswith(".schema.json"))),
            "array of unions": items(lambda i: is_ref(i, lambda r: r == "#/$defs/shape")),
            "{} as any": any(isinstance(s, dict) and not s.keys() - annotation_only for *_, s, _ in props),
            "enum needing sanitizing": {"job.queued", "default", "1st"} <= {
                v for n in dicts for v in n.get("enum", []) if isinstance(v, str)},
            "enum without type": any("enum" in n and "type" not in n for n in dicts),
            "const property outside a union": any("const" in s for stem, ptr, _, s, _ in props
                                                  if (stem, ptr) not in branches),
            "const with type string": any("const" in n and n.get("type") == "string" for n in dicts),
            "integer bounds": any(n.get("type") == "integer" and "minimum" in n for n in dicts),
            "integer exclusive bounds": any(n.get("type") == "integer" and "exclusiveMinimum" in n for n in dicts),
            "number bounds": any(n.get("type") == "number" and "maximum" in n for n in dicts),
            "number exclusive bounds": any(n.get("type") == "number" and "exclusiveMaximum" in n for n in dicts),
            "local $ref": any(is_ref(n, lambda r: r.startswith("#/$defs/")) for n in dicts),
            "cross-file $ref to $defs": any(is_ref(n, lambda r: ".schema.json#/$defs/" in r) for n in dicts),
            "whole-file $ref": any(is_ref(n, lambda r: r.endswith(".schema.json")) for n in dicts),
            "date-time": any(n.get("format") == "date-time" for n in dicts),
            "non-ASCII pattern": any(any(ord(c) > 127 for c in n.get("pattern", "")) for n in dicts),
            "pattern checked by a table": any(model.simple_class_pattern(p) for p in patterns),
            "pattern checked by a regex": any(not model.simple_class_pattern(p) for p in patterns),
            "oneOf": any("oneOf" in n for n in dicts),
            "anyOf": any("anyOf" in n for n in dicts),
            "string default": default(lambda _, s, d: s.get("type") == "string" and isinstance(d, str)),
            "integer default": default(lambda _, s, d: s.get("type") == "integer"),
            "number default": default(lambda _, s, d: s.get("type") == "number" and isinstance(d, float)),
            "boolean default": default(lambda _, s, d: isinstance(d, bool)),
            "enum default (local $ref)": default(lambda st, s, d: enum_ref(st, s) and s["$ref"].startswith("#")),
            "enum default (cross-file $ref)": default(lambda st, s, d: enum_ref(st, s) and s["$ref"][0] != "#"),
            "{} default": default(lambda _, s, d: d == {}),
            "[] default": default(lambda _, s, d: d == []),
            "non-empty array default": default(lambda _, s, d: isinstance(d, list) and d),
            "property named after a C++ keyword": any(name in model.CPP_KEYWORDS for _, _, name, _, _ in props),
            "property name with / and ~": any("/" in name and "~" in name for _, _, name, _, _ in props),
            "non-ASCII property name": any(any(ord(c) > 127 for c in name) for _, _, name, _, _ in props),
            "property name with a quote": any('"' in name for _, _, name, _, _ in props),
            "two property names with one C++ spelling": any(
                len({model.snake_case(k) for k in n["properties"]}) < len(n["properties"])
                for n in dicts if isinstance(n.get("properties"), dict)),
            'type "null"': any(n.get("type") == "null" for n in dicts),
            "type list of two non-null types": any(
                isinstance(n.get("type"), list) and len(set(n["type"]) - {"null"}) >= 2 for n in dicts),
            "type list of three types": any(isinstance(n.get("type"), list) and len(n["type"]) == 3 for n in dicts),
            "const of a number": any(isinstance(n.get("const"), (int, float)) for n in dicts),
            "const of an object": any(isinstance(n.get("const"), dict) for n in dicts),
            "const string with U+0000": any("\0" in str(n.get("const", "")) for n in dicts),
            "enum of integers": any(n.get("enum") and all(type(v) is int for v in n["enum"]) for n in dicts),
            "enum of mixed JSON values": any(len({type(v) for v in n.get("enum", [])}) >= 4 for n in dicts),
            "enum values with U+0000": any(any("\0" in v for v in n.get("enum", []) if isinstance(v, str))
                                           for n in dicts),
            "enum values with line breaks": any(any("\n" in v for v in n.get("enum", []) if isinstance(v, str))
                                                for n in dicts),
            "additionalProperties schema beside properties": any(
                "properties" in n and isinstance(n.get("additionalProperties"), dict) for n in dicts),
            "required without properties": any("required" in n and "properties" not in n for n in dicts),
            "counts written as floats": any(isinstance(n.get("maxItems"), float) for n in dicts),
            "default that does not validate": any(n.get("default") == -5 and n.get("minimum") == 0 for n in dicts),
            "percent-encoded $ref": any(is_ref(n, lambda r: "%25" in r) for n in dicts),
            "~-escaped $ref": any(is_ref(n, lambda r: "~1" in r and "~0" in r) for n in dicts),
            "multipleOf integer": any(type(n.get("multipleOf")) is int for n in dicts),
            "multipleOf float": any(type(n.get("multipleOf")) is float for n in dicts),
            "x-cpp-type milliseconds": any(n.get("x-cpp-type") == "milliseconds" for n in dicts),
            "x-cpp-type size": any(n.get("x-cpp-type") == "size" for n in dicts),
            "format as an annotation": any(n.get("format") not in (None, "date-time") for n in dicts),
        }
        self.assertEqual([name for name, ok in checks.items() if not ok], [], "constructs no fixture exercises")

    def test_unions_are_tagged_by_type_and_by_another_property(self):
        found = set()
        for sf in model.build(fixture_paths(), NAMESPACE):
            for d in sf.decls:
                if d.kind == "variant":
                    node = model.Builder.node_at(sf.document, d.pointer)
                    found.add(("oneOf" if "oneOf" in node else "anyOf", d.discriminator))
        self.assertIn(("oneOf", "type"), found)
        # Every shape also has a "type" const with the same value, so "kind" must win.
        self.assertIn(("anyOf", "kind"), found)

    def test_enumerators_are_distinct_cpp_identifiers(self):
        identifier = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
        for sf in model.build(fixture_paths(), NAMESPACE):
            for d in sf.decls:
                if d.kind == "enum":
                    names = [cpp for cpp, _ in d.values]
                    self.assertEqual(len(set(names)), len(names), d.name)
                    for cpp in names:
                        self.assertRegex(cpp, identifier)
                        self.assertNotIn(cpp, model.CPP_KEYWORDS)


class SampleTest(unittest.TestCase):
    def test_every_fixture_has_five_or_more_samples(self):
        for stem in DOCS:
            with self.subTest(stem=stem):
                path = FIXTURES / f"{stem}.samples.json"
                self.assertTrue(path.is_file(), f"{path} is missing")
                samples = load_samples(stem)
                self.assertIsInstance(samples, list)
                self.assertGreaterEqual(len(samples), 5)
        stray = {p.name[: -len(".samples.json")] for p in FIXTURES.glob("*.samples.json")} - DOCS.keys()
        self.assertEqual(stray, set(), "samples without a schema")

    def test_samples_are_valid(self):
        for stem in DOCS:
            v = validator(stem)
            for i, sample in enumerate(load_samples(stem)):
                with self.subTest(stem=stem, sample=i):
                    self.assertEqual(errors(v, sample), [])

    def test_samples_only_hold_declared_members(self):
        # The C++ round trip checks that the written document has every member of
        # the sample, so unknown members (which open objects ignore) must not be there.
        closed = copy.deepcopy(STORE)
        for doc in closed.values():
            for _, node, _ in walk(doc):
                if isinstance(node, dict) and "properties" in node:
                    node.setdefault("additionalProperties", False)
        for stem in DOCS:
            v = validator(stem, store=closed)
            for i, sample in enumerate(load_samples(stem)):
                with self.subTest(stem=stem, sample=i):
                    self.assertEqual(errors(v, sample), [])

    def test_samples_use_non_ascii_and_astral_text(self):
        everything = []
        for stem in DOCS:
            text = "".join(strings_in(load_samples(stem)))
            everything.append(text)
            with self.subTest(stem=stem):
                self.assertTrue(any(ord(c) > 127 for c in text), "no non-ASCII text")
        self.assertTrue(any(ord(c) > 0xFFFF for c in "".join(everything)), "no astral-plane text")

    def test_samples_reach_the_bounds(self):
        scalars = load_samples("scalars")
        collections = load_samples("collections")
        shapes = load_samples("shapes")
        checks = {
            "count 0 and 100": {s["count"] for s in scalars} >= {0, 100},
            "offset -9 and 9": {s.get("offset") for s in scalars} >= {-9, 9},
            "big ±(2^53-1)": {s.get("big") for s in scalars} >= {-(2**53 - 1), 2**53 - 1},
            "ratio 0 and 1": {s.get("ratio") for s in scalars} >= {0, 1},
            "name of 1 and 8 code points": {len(s["name"]) for s in scalars} >= {1, 8},
            "name of 8 astral code points": any(len(s["name"]) == 8 and all(ord(c) > 0xFFFF for c in s["name"])
                                                for s in scalars),
            "note of 16 code points": any(len(s.get("note") or "") == 16 for s in scalars),
            "a leap second": any(s["created_at"].endswith(":60Z") for s in scalars),
            "matrix of 3 rows of 3": any(len(c["matrix"]) == 3 and max(map(len, c["matrix"])) == 3
                                         for c in collections),
            "5 tags": any(len(c.get("tags", [])) == 5 for c in collections),
            "grid cells -128 and 127": {x for c in collections for row in c.get("grid", []) for x in row}
                                       >= {-128, 127, None},
            "width 4096 and height 1": any(s["primary"].get("width") == 1 for s in shapes)
                                       and any(s["primary"].get("height") == 1 for s in shapes),
            "a title of 40 code points": any(len(s["title"]) == 40 for s in shapes),
        }
        self.assertEqual([name for name, ok in checks.items() if not ok], [])

    def test_samples_cover_every_union_branch(self):
        self.assertEqual({s["type"] for s in load_samples("events")}, {"job.started", "job.progress", "job.finished"})
        kinds = {s["primary"]["kind"] for s in load_samples("shapes")}
        kinds |= {x["kind"] for s in load_samples("shapes") for x in s.get("shapes", [])}
        self.assertEqual(kinds, {"circle", "rect", "polygon"})

    def test_fixtures_decide_edge_cases_as_intended(self):
        # (stem, subschema or None for the root, instance, valid?)
        ref = "https://jobwatch.dev/fixtures/common.schema.json#/$defs/"
        cases = [
            ("common", {"$ref": ref + "identifier"}, "job-42", True),
            ("common", {"$ref": ref + "identifier"}, "job-42\n", False),  # $(?!\n): ECMA and Python agree
            ("common", {"$ref": ref + "identifier"}, "Job-42", False),
            ("common", {"$ref": ref + "identifier"}, "j" * 65, False),
            ("common", {"$ref": ref + "display_name"}, "Zoë Ångström", True),
            ("common", {"$ref": ref + "display_name"}, "Zoë\n", False),
            ("common", {"$ref": ref + "display_name"}, "Zoë 😀", False),
            ("common", {"$ref": ref + "display_name"}, " Zoë", False),
            ("common", {"$ref": ref + "tier"}, "DEFAULT", False),
            ("common", {"$ref": ref + "tier"}, "crème", True),
            ("common", {"$ref": ref + "timestamp"}, "2023-02-29T00:00:00Z", False),
            ("common", {"$ref": ref + "timestamp"}, "2024-02-29T00:00:00", False),
            ("common", {"$ref": ref + "labels"}, {"k": "😀" * 16}, True),
            ("common", {"$ref": ref + "labels"}, {"k": "😀" * 17}, False),
            ("common", None, {"id": "a", "state": "job.queued", "extra": 1}, False),
            ("scalars", None, dict(load_samples("scalars")[0], name="😀" * 9), False),
            ("scalars", None, dict(load_samples("scalars")[0], name=""), False),
            ("scalars", None, dict(load_samples("scalars")[0], count=101), False),
            ("scalars", None, dict(load_samples("scalars")[0], count=1.0), True),  # 1.0 is an integer
            ("scalars", None, dict(load_samples("scalars")[0], count=1.5), False),
            ("scalars", None, dict(load_samples("scalars")[0], offset=10), False),
            ("scalars", None, dict(load_samples("scalars")[0], temperature=-273.15), False),
            ("scalars", None, dict(load_samples("scalars")[0], version="v2"), False),
            ("scalars", None, dict(load_samples("scalars")[0], code="12.5 €\n"), False),
            ("scalars", None, dict(load_samples("scalars")[0], slug="ab"), False),
            ("scalars", None, dict(load_samples("scalars")[0], slug="abc\n"), False),
            ("scalars", None, dict(load_samples("scalars")[0], slug="ABC"), False),
            ("scalars", None, dict(load_samples("scalars")[0], slug="a" * 17), False),
            ("scalars", None, {k: v for k, v in load_samples("scalars")[0].items() if k != "deleted_at"}, False),
            ("events", None, {"type": "job.progress", "job_id": "a", "percent": 101}, False),
            ("events", None, {"type": "job.started", "job": {"id": "a", "state": "job.queued"}, "x": 1}, False),
            ("events", None, dict(load_samples("events")[6], unknown="ignored by an open object"), True),
            ("events", None, {"type": "job.stopped"}, False),
            ("shapes", None, {"title": "t", "primary": {"type": "shape", "kind": "circle", "radius": 0}}, False),
            ("shapes", None, {"title": "t", "primary": {"type": "shape", "kind": "polygon",
                                                       "vertices": [[0, 0], [1, 1], [2, 2, 2]]}}, False),
            ("collections", None, {"matrix": [[1]], "points": [{"x": 0, "y": 0}], "limits": None}, False),
            ("collections", None, {"matrix": [[1, 2]], "points": [], "limits": None}, False),
            ("collections", None, {"matrix": [[1, 2]], "points": [{"x": 0, "y": 0}]}, False),
        ]
        for stem, schema, instance, valid in cases:
            with self.subTest(stem=stem, schema=schema, instance=instance):
                self.assertEqual(validator(stem, schema).is_valid(instance), valid)

    @unittest.skipIf(shutil.which("node") is None, "node is not installed")
    def test_patterns_mean_the_same_in_ecma_262_and_python(self):
        # The oracle (python3-jsonschema) matches patterns with Python's re; the
        # generated code with ECMA-262 ("u" in TypeScript, code points in C++).
        patterns = sorted({n["pattern"] for _, _, n, _ in all_subschemas() if isinstance(n, dict) and "pattern" in n})
        probes = {"", "\n", "a\n", "a", "A", "é", "😀", " ", "-", "#", "\u2028", "\r"}
        for stem in DOCS:
            probes |= set(strings_in(load_samples(stem)))
        for s in list(probes):
            probes |= {s + "\n", "\n" + s, s + "\r", s.upper(), s + "😀"}
        probes = sorted(probes)
        script = ("const [ps, ss] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
                  "console.log(JSON.stringify(ps.map(p => ss.map(s => new RegExp(p, 'u').test(s)))));")
        r = subprocess.run(["node", "-e", script], input=json.dumps([patterns, probes]),
                           capture_output=True, text=True, encoding="utf-8", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        ecma = json.loads(r.stdout)
        for p, results in zip(patterns, ecma):
            for s, e in zip(probes, results):
                with self.subTest(pattern=p, string=s):
                    self.assertEqual(re.search(p, s) is not None, e)


CLANG_FORMAT = shutil.which("clang-format-14") or shutil.which("clang-format")


def clang_format(name, text):
    """`text` as clang-format writes it with golden/.clang-format (the project's style)."""
    r = subprocess.run([CLANG_FORMAT, "--style=file", f"--assume-filename={GOLDEN / 'cpp' / name}"],
                       input=text, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"clang-format failed on {name}: {r.stderr.decode()}")
    return r.stdout


def without_space(text: bytes) -> bytes:
    return re.sub(rb"\s+", b"", text)


class GoldenTest(unittest.TestCase):
    """Generated output equals golden/<lang>/; JOBWATCH_UPDATE_GOLDEN=1 rewrites it.

    The C++ goldens are stored as clang-format writes them, so that they read
    like hand-written code: the generated headers are formatted before the
    comparison, and also compared unformatted, ignoring whitespace (which
    holds where clang-format is missing: then the exact check is skipped)."""

    def check_golden(self, lang):
        golden_dir = GOLDEN / lang
        with tempfile.TemporaryDirectory() as tmp:
            generated = generate(self, lang, pathlib.Path(tmp) / NAMESPACE, fixture_paths())
        if lang == "cpp":
            golden_now = read_tree(golden_dir)
            for name, text in generated.items():
                with self.subTest(file=name, check="unformatted, ignoring whitespace"):
                    if name in golden_now and not UPDATE_GOLDEN:
                        self.assertEqual(without_space(text), without_space(golden_now[name]),
                                         f"{name} differs from golden/cpp/{name} beyond whitespace")
            if CLANG_FORMAT is None:
                if UPDATE_GOLDEN:
                    self.fail("JOBWATCH_UPDATE_GOLDEN=1 needs clang-format (the C++ goldens are stored formatted)")
                self.skipTest("clang-format is not installed: the C++ goldens were compared ignoring whitespace only")
            generated = {name: clang_format(name, text) for name, text in generated.items()}
        self.assertLessEqual({f"{stem}.{'hpp' if lang == 'cpp' else 'ts'}" for stem in DOCS}, set(generated))
        if lang == "ts":
            # The runtime is ts/codec.ts, copied as it is: no golden copy of it.
            self.assertEqual(generated.pop("codec.ts"), (ROOT / "ts" / "codec.ts").read_bytes())
        golden = read_tree(golden_dir)
        if UPDATE_GOLDEN:
            golden_dir.mkdir(parents=True, exist_ok=True)
            for name in golden.keys() - generated.keys():
                (golden_dir / name).unlink()
            changed = sorted(n for n, text in generated.items() if golden.get(n) != text)
            for name in changed:
                (golden_dir / name).write_bytes(generated[name])
            self.skipTest(f"JOBWATCH_UPDATE_GOLDEN=1: rewrote {changed or 'nothing'} in {golden_dir}")
        problems = []
        for name in sorted(golden.keys() - generated.keys()):
            problems.append(f"{name}: in {golden_dir} but no longer generated")
        for name in sorted(generated.keys() - golden.keys()):
            problems.append(f"{name}: generated but not in {golden_dir}")
        for name in sorted(generated.keys() & golden.keys()):
            if generated[name] != golden[name]:
                diff = difflib.unified_diff(
                    golden[name].decode("utf-8").splitlines(keepends=True),
                    generated[name].decode("utf-8").splitlines(keepends=True),
                    fromfile=f"golden/{lang}/{name}", tofile=f"generated/{name}")
                lines = list(diff)
                if len(lines) > 200:
                    lines = lines[:200] + [f"... ({len(lines) - 200} more diff lines)\n"]
                problems.append("".join(lines))
        if problems:
            self.fail(f"generated {lang} differs from the golden files:\n" + "\n".join(problems)
                      + "\nIf the change is intended, rewrite them with JOBWATCH_UPDATE_GOLDEN=1 "
                        "and review the diff.")

    def test_cpp(self):
        self.check_golden("cpp")

    @unittest.skipUnless(TS_TEMPLATE.exists(), TS_MISSING)
    def test_ts(self):
        self.check_golden("ts")


class DeterminismTest(unittest.TestCase):
    def test_generating_twice_gives_identical_bytes(self):
        for lang in languages():
            with self.subTest(lang=lang), tempfile.TemporaryDirectory() as tmp:
                first = generate(self, lang, pathlib.Path(tmp) / "a", fixture_paths())
                second = generate(self, lang, pathlib.Path(tmp) / "b", fixture_paths())
                self.assertEqual(first, second)

    def test_input_order_does_not_matter(self):
        paths = fixture_paths()
        # Each file first once (types are then reached in another order), and reversed.
        orders = [paths[i:] + paths[:i] for i in range(1, len(paths))] + [paths[::-1]]
        for lang in languages():
            with self.subTest(lang=lang), tempfile.TemporaryDirectory() as tmp:
                reference = generate(self, lang, pathlib.Path(tmp) / "ref", paths)
                for i, order in enumerate(orders):
                    out = generate(self, lang, pathlib.Path(tmp) / f"o{i}", order)
                    self.assertEqual(out, reference, f"order {[p.name for p in order]} gives other output")

    def test_unchanged_files_are_not_rewritten(self):
        # Builds depend on the headers: regenerating the same text must keep their times.
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / NAMESPACE
            generate(self, "cpp", out, fixture_paths())
            for p in out.iterdir():
                os.utime(p, ns=(1_000_000_000, 1_000_000_000))
            generate(self, "cpp", out, fixture_paths())
            self.assertEqual({p.name: p.stat().st_mtime_ns for p in out.iterdir()},
                             {p.name: 1_000_000_000 for p in out.iterdir()})


# stem of refuse/<stem>.schema.json -> (JSON Pointer, the whole reason after "file: pointer: ")
REFUSALS = {
    "all_of": ("/properties/x/allOf", "unsupported keyword 'allOf': a value cannot be several C++ types at once; "
               "merge the subschemas into one schema"),
    "not": ("/properties/x/not", "unsupported keyword 'not': a negation has no type; say what is allowed instead "
            "(enum, pattern, bounds)"),
    "if_then": ("/if", "unsupported keyword 'if': a conditional has no single type; use a oneOf whose branches are "
                "tagged by a const property"),
    "unique_items": ("/properties/x/uniqueItems", "unsupported keyword 'uniqueItems': uniqueness is not checked; "
                     "check it in the application, or use an object keyed by the item"),
    "pattern_properties": ("/properties/x/patternProperties", "unsupported keyword 'patternProperties': keys chosen "
                           "by a pattern have no member to go to; use additionalProperties with a schema"),
    "prefix_items": ("/properties/x/prefixItems", "unsupported keyword 'prefixItems': tuples are not typed; use an "
                     "object with named properties"),
    "contains": ("/properties/x/contains", "unsupported keyword 'contains': contains does not type the items; give "
                 "items a schema that every item satisfies"),
    # The URL's last segment is the file's own name, which must not make it resolve locally.
    "remote_ref": ("/properties/x", "$ref 'https://example.com/schemas/remote_ref.schema.json#/$defs/name': the "
                   "referenced schema is not among the inputs (remote references must equal the $id of an input; "
                   "give that file too)"),
    "deep_ref": ("/properties/x", "$ref '#/properties/y': only references to top-level $defs entries or to whole "
                 "schema files are supported; move the referenced schema into $defs"),
    "ref_with_siblings": ("/properties/x", "$ref cannot be combined with other assertions (maxLength); put them "
                          "into the referenced schema, or into a new $defs entry"),
    "one_of_inline_branch": ("/properties/x/oneOf/1", "each oneOf branch must be a $ref to an object type (a C++ "
                             "variant needs named alternatives); move the branch into $defs and refer to it"),
    "one_of_no_discriminator": ("/oneOf", "oneOf branches need a common required const property with a distinct "
                                "value in each (a discriminator such as \"type\"), so that the tag decides which C++ "
                                "alternative a document is"),
    "recursive_ref": ("/$defs/node", "recursive types are not supported: a C++ aggregate cannot hold itself; break "
                      "the cycle with an array of ids or an untyped value ({})"),
    "properties_without_type": ("/$defs/thing", "assertions other than $ref, oneOf, anyOf, enum and const need a "
                                "type (without one, properties would apply only to values of its own type "
                                "and let every other value through); add \"type\""),
    "min_length_on_integer": ("/properties/x/minLength", "'minLength' does not apply to type 'integer': it would "
                              "be ignored; remove it, or add the type it is meant for"),
    "false_schema": ("/properties/x", "the schema `false` accepts nothing, so it has no type; leave the property "
                     "out and set additionalProperties: false"),
    "python_regex": ("/properties/x/pattern", "pattern is not an ECMA-262 regular expression that jobwatch can "
                     "check: invalid group at offset 2"),
    "lookbehind": ("/properties/x/pattern", "pattern is not an ECMA-262 regular expression that jobwatch can check: "
                   "lookbehind is not supported (std::regex has none) at offset 0"),
    "backreference": ("/properties/x/pattern", "pattern is not an ECMA-262 regular expression that jobwatch can "
                      "check: backreferences are not supported (std::regex does not match one to a group that did "
                      "not take part as ECMA-262 does) at offset 5"),
    "unicode_property": ("/properties/x/pattern", "pattern is not an ECMA-262 regular expression that jobwatch can "
                         "check: Unicode property escapes (\\p{...}) are not supported; spell the ranges out at "
                         "offset 2"),
    "lone_brace": ("/properties/x/pattern", "pattern is not an ECMA-262 regular expression that jobwatch can check: "
                   "a lone { is not allowed in u mode at offset 1"),
    "no_valid_enum_value": ("/properties/x/enum", "no value of enum satisfies the other keywords, so nothing is "
                            "valid; fix the values or the keywords"),
    "lone_surrogate_enum": ("/properties/x/enum", "\"\\ud800\" holds a lone surrogate, which no UTF-8 string can "
                            "hold; remove it"),
    "required_but_forbidden": ("/properties/x/required", "required property 'y' is not in properties and "
                               "additionalProperties is false, so no object is valid; add it to properties"),
    "size_hint_negative": ("/properties/x/x-cpp-type", "x-cpp-type size needs minimum >= 0 (a std::size_t cannot "
                           "hold a negative value)"),
    "hint_on_string": ("/properties/x/x-cpp-type", "x-cpp-type applies to schemas of type integer only"),
    "bound_beyond_double": ("/properties/x/minimum", "minimum must be a finite number within the range of a double"),
}


class RefusalTest(unittest.TestCase):
    def test_every_refusal_schema_is_in_the_table(self):
        self.assertEqual({stem_of(p) for p in REFUSE.glob("*.schema.json")}, set(REFUSALS))

    def test_refusal_schemas_are_valid_json_schema(self):
        # Refused because the generator does not support them, not because they are malformed.
        for path in sorted(REFUSE.glob("*.schema.json")):
            with self.subTest(file=path.name):
                Draft202012Validator.check_schema(load(path))

    def assert_refused(self, paths, file, pointer, fragment, lang):
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "out"
            r = run_codegen("--lang", lang, "--namespace", "refused", "--out", out, *paths)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertEqual(r.stdout, "")
            prefix = f"jobwatch-codegen: error: {file}: {pointer}: "
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertTrue(r.stderr.startswith(prefix), f"expected {prefix!r}...\ngot {r.stderr!r}")
            self.assertEqual(r.stderr[len(prefix):].rstrip("\n"), fragment)
            self.assertEqual(read_tree(out), {}, "files were written")

    def test_each_unsupported_construct_is_refused(self):
        # A table test: each refusal's whole message, so a reworded one is a conscious change.
        for stem, (pointer, fragment) in REFUSALS.items():
            for lang in languages():
                with self.subTest(stem=stem, lang=lang):
                    self.assert_refused([REFUSE / f"{stem}.schema.json"], f"{stem}.schema.json",
                                        pointer, fragment, lang)

    def test_one_refused_file_stops_all_output(self):
        stem = "contains"
        pointer, fragment = REFUSALS[stem]
        paths = fixture_paths() + [REFUSE / f"{stem}.schema.json"]
        self.assert_refused(paths, f"{stem}.schema.json", pointer, fragment, "cpp")

    def test_bad_files_are_clear_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "broken.schema.json").write_text('{"type": "object",', encoding="utf-8")
            (tmp / "dup.schema.json").write_text('{"type": "object", "type": "string"}', encoding="utf-8")
            (tmp / "misnamed.json").write_text('{"type": "string"}', encoding="utf-8")
            # Malformed schemas that once ended in a Python traceback.
            malformed = {
                "title_int": ('{"title": 5, "type": "string"}', "/title: title must be a string"),
                "description_int": ('{"type": "object", "properties": {"x": {"description": 5, "type": "string"}}}',
                                    "/properties/x/description: description must be a string"),
                "type_object": ('{"type": "object", "properties": {"x": {"type": {"a": 1}}}}',
                                "/properties/x/type: unsupported type"),
            }
            for stem, (text, _) in malformed.items():
                (tmp / f"{stem}.schema.json").write_text(text, encoding="utf-8")
            cases = [(tmp / f"{stem}.schema.json", f"{stem}.schema.json: {message}")
                     for stem, (_, message) in malformed.items()]
            cases += [
                (tmp / "broken.schema.json", "broken.schema.json: (root): not valid JSON"),
                (tmp / "dup.schema.json", "dup.schema.json: (root): not valid JSON: duplicate key 'type'"),
                (tmp / "misnamed.json", "misnamed.json: (root): schema files must be named <stem>.schema.json"),
                (tmp / "missing.schema.json", "missing.schema.json"),
            ]
            for (path, expected), lang in itertools.product(cases, languages()):
                with self.subTest(file=path.name, lang=lang):
                    out = tmp / f"out-{path.name}-{lang}"
                    r = run_codegen("--lang", lang, "--out", out, path)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertNotIn("Traceback", r.stderr)
                    self.assertTrue(r.stderr.startswith("jobwatch-codegen: error: "), r.stderr)
                    self.assertIn(expected, r.stderr)
                    self.assertFalse(out.exists())


# ---------------------------------------------------------------------------
# jobwatch's keywords for event types: x-jobwatch-user-types, x-jobwatch-events, x-jobwatch-effect

TSC = ROOT / "ts" / "node_modules" / ".bin" / "tsc"


def event_types_doc(**root_keywords):
    """A small union of two event types tagged by "type". Common to both:
    `order_id` (required in both), `note` (optional in both); `total` has
    another schema in each and `carrier` is in one only, so neither is common."""
    def event(tag, extra, required):
        return {
            "description": f"An {tag} event.",
            "type": "object",
            "x-jobwatch-effect": "log" if tag == "order.placed" else "none",
            "properties": {
                "type": {"description": "Discriminator.", "type": "string", "const": tag},
                "order_id": {"description": "Order.", "$ref": "#/$defs/order_id"},
                "note": {"description": "A remark, \"quoted\" and non-ASCII: é 😀.", "type": "string", "maxLength": 20},
                **extra,
            },
            "required": ["type", "order_id", *required],
            "additionalProperties": False,
        }

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.com/shop_event.schema.json",
        "title": "shop_event",
        "description": "Events of a shop.",
        **root_keywords,
        "oneOf": [{"$ref": "#/$defs/order_placed"}, {"$ref": "#/$defs/order_shipped"}],
        "$defs": {
            "order_id": {"description": "An order id.", "type": "string", "pattern": "^[A-Z0-9-]{1,20}$"},
            "order_placed": event("order.placed", {"total": {"description": "Sum.", "type": "number"}}, ["total"]),
            "order_shipped": event("order.shipped", {
                "total": {"description": "Sum in cents.", "type": "integer", "minimum": 0, "maximum": 100000},
                "carrier": {"description": "Carrier.", "type": "string"}}, []),
        },
    }


def cpp_unescape(literal):
    """The text of a C++ string literal as escape.cpp_string_literal writes it (\\", \\\\, \\ooo)."""
    body = literal[1:-1]
    decoded = re.sub(r'\\([0-7]{3}|"|\\)', lambda m: chr(int(m.group(1), 8)) if len(m.group(1)) == 3 else m.group(1),
                     body)
    return decoded.encode("latin-1").decode("utf-8")


class EventTypeKeywordTest(unittest.TestCase):
    """x-jobwatch-user-types (an open union), x-jobwatch-events (the document
    embedded in the header) and x-jobwatch-effect (checked, no effect)."""

    def generate_doc(self, doc, lang, stem="shop_event"):
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / f"{stem}.schema.json"
            path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
            return {name: text.decode("utf-8")
                    for name, text in generate(self, lang, pathlib.Path(tmp) / "out", [path], "shop").items()}

    def assert_doc_refused(self, doc, pointer, message, stem="shop_event"):
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / f"{stem}.schema.json"
            path.write_text(json.dumps(doc), encoding="utf-8")
            for lang in languages():
                with self.subTest(pointer=pointer, lang=lang):
                    out = pathlib.Path(tmp) / f"out-{lang}"
                    r = run_codegen("--lang", lang, "--namespace", "shop", "--out", out, path)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertNotIn("Traceback", r.stderr)
                    self.assertEqual(r.stderr, f"jobwatch-codegen: error: {stem}.schema.json: {pointer}: {message}\n")
                    self.assertEqual(read_tree(out), {}, "files were written")

    def test_open_union_cpp(self):
        hpp = self.generate_doc(event_types_doc(**{"x-jobwatch-user-types": True}), "cpp")["shop_event.hpp"]
        closed = self.generate_doc(event_types_doc(), "cpp")["shop_event.hpp"]
        message = model.cpp_string_literal('must be one of "order.placed", "order.shipped"')
        self.assertIn("using shop_event = std::variant<order_placed, order_shipped, ::jobwatch::user_event>;", hpp)
        self.assertIn("#include <jobwatch/codec.hpp>\n#include <jobwatch/events/user_event.hpp>\n", hpp)
        self.assertIn("return ::jobwatch::detail::read_user_event(ctx, jv, t, out.emplace<::jobwatch::user_event>(),"
                      f"\n                                               {message});", hpp)
        self.assertNotIn(f'return ctx.fail_at("type", {message});', hpp)
        # The pull reader still leaves an unknown tag to the DOM reader; writers visit every alternative.
        self.assertIn('return jobwatch_pull(r, out.emplace<order_shipped>());\n', hpp)
        self.assertIn("std::visit([&w](auto const& alt) { jobwatch_write(w, alt); }, v);", hpp)
        # Without the keyword: the closed union, as before.
        self.assertIn("using shop_event = std::variant<order_placed, order_shipped>;", closed)
        self.assertIn(f'return ctx.fail_at("type", {message});', closed)
        self.assertNotIn("user_event", closed)
        self.assertNotIn("codegen_schemas", closed + hpp)

    def test_open_union_ts(self):
        ts = self.generate_doc(event_types_doc(**{"x-jobwatch-user-types": True}), "ts")["shop_event.ts"]
        interface = ts[ts.index("export interface ShopEventUser {"):]
        interface = interface[: interface.index("\n}\n") + 3]
        members = [line.strip() for line in interface.splitlines()[1:-1] if not line.strip().startswith("/**")]
        # No index signature: users' generated interfaces have none, and must satisfy the bound.
        self.assertEqual(members, ["type: string;", "order_id: OrderId;", "note?: string;"])
        self.assertIn("export type ShopEvent<U extends ShopEventUser = never> =\n  | OrderPlaced\n  | OrderShipped\n"
                      "  | U;\n", ts)
        self.assertIn("export function readShopEvent(ctx: codec.ReadContext, v: unknown): v is "
                      "ShopEvent<ShopEventUser> {", ts)
        self.assertIn("codec.ParseResult<ShopEvent<ShopEventUser>>", ts)
        closed = self.generate_doc(event_types_doc(), "ts")["shop_event.ts"]
        self.assertNotIn("ShopEventUser", closed)
        self.assertIn("export type ShopEvent =\n  | OrderPlaced\n  | OrderShipped;\n", closed)

    @unittest.skipIf(shutil.which("node") is None or not TSC.exists(), "node or ts/node_modules (npm ci --prefix ts) missing")
    def test_open_union_ts_compiles_and_reads_user_events(self):
        user = {"x-jobwatch-user-types": True}
        # Another module that refers to the union bare, as server_message.ts refers to JobEvent.
        envelope = {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.com/envelope.schema.json",
            "title": "envelope", "description": "Carries one event.", "type": "object",
            "properties": {"event": {"description": "The event.", "$ref": "shop_event.schema.json"}},
            "required": ["event"], "additionalProperties": False,
        }
        use = """
import { parseShopEvent, parseEnvelope, ShopEvent, ShopEventUser, Envelope } from "./index";
const builtIn: ShopEvent = { type: "order.placed", order_id: "A-1", total: 1.5 };
const open: ShopEvent<ShopEventUser> = { type: "order.returned", order_id: "A-1" };
const env: Envelope = { event: builtIn };
function tagOf(e: ShopEvent): "order.placed" | "order.shipped" { return e.type; }
// A user's own event type, an interface as the generator writes them, joins the union and narrows.
export interface OrderReturned { type: "order.returned"; order_id: string; note?: string; reason: string }
export function reasonOf(e: ShopEvent<OrderReturned>): string {
  switch (e.type) {
    case "order.returned": return e.reason;
    case "order.placed": return String(e.total);
    default: return e.order_id;
  }
}
const cases: Array<[string, unknown]> = JSON.parse(process.argv[2] ?? "[]");
const out = cases.map(([which, doc]) => {
  const r = which === "envelope" ? parseEnvelope(JSON.stringify(doc)) : parseShopEvent(JSON.stringify(doc));
  return r.ok ? "ok" : r.error.path + " " + r.error.message;
});
process.stdout.write(JSON.stringify([out, tagOf(builtIn), open.order_id, env.event.type]));
"""
        cases = [
            ["event", {"type": "order.returned", "order_id": "A-1", "reason": {"any": "thing"}}],
            ["event", {"type": "order.returned", "order_id": "A-1", "note": "n", "total": "not checked"}],
            ["event", {"type": "order.returned", "queue": "q"}],
            ["event", {"type": "order.returned", "order_id": "a-1"}],
            ["event", {"type": "order.returned", "order_id": "A-1", "note": 5}],
            ["event", {"type": "order.returned", "order_id": "A-1", "note": "x" * 21}],
            ["event", {"order_id": "A-1"}],
            ["event", {"type": 5, "order_id": "A-1"}],
            ["event", [1]],
            # Known tags keep their rules.
            ["event", {"type": "order.placed", "order_id": "A-1"}],
            ["event", {"type": "order.shipped", "order_id": "A-1", "reason": "x"}],
            ["event", {"type": "order.shipped", "order_id": "A-1", "total": 2}],
            ["envelope", {"event": {"type": "order.returned", "order_id": "A-1"}}],
            ["envelope", {"event": {"type": "order.returned"}}],
            # The same faults under a listed tag, for comparison.
            ["event", {"type": "order.shipped"}],
            ["event", {"type": "order.shipped", "order_id": "a-1"}],
            ["event", {"type": "order.shipped", "order_id": "A-1", "note": 5}],
            ["event", {"type": "order.shipped", "order_id": "A-1", "note": "x" * 21}],
        ]
        # The user branch words errors, and points at them, as the listed types do.
        expected = [
            "ok",
            "ok",  # properties that are not common to every listed type are left to the server
            ' missing required property "order_id"',
            "/order_id must match pattern ^[A-Z0-9-]{1,20}$",
            "/note expected string, got integer",
            "/note must be at most 20 characters",
            ' missing required property "type"',
            "/type expected string, got integer",
            " expected object, got array",
            ' missing required property "total"',
            "/reason unknown property",
            "ok",
            "ok",
            '/event missing required property "order_id"',
        ]
        expected += expected[2:6]
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            (tmp / "shop_event.schema.json").write_text(json.dumps(event_types_doc(**user)), encoding="utf-8")
            (tmp / "envelope.schema.json").write_text(json.dumps(envelope), encoding="utf-8")
            out = tmp / "gen"
            generate(self, "ts", out, [tmp / "shop_event.schema.json", tmp / "envelope.schema.json"])
            (out / "use.ts").write_text(use, encoding="utf-8")
            r = subprocess.run([str(TSC), "--strict", "--noUnusedLocals", "--exactOptionalPropertyTypes",
                                "--noPropertyAccessFromIndexSignature", "--noUncheckedIndexedAccess",
                                "--target", "ES2022", "--module", "commonjs", "--types", "node",
                                "--typeRoots", str(ROOT / "ts" / "node_modules" / "@types"),
                                "--outDir", str(tmp / "build"), *map(str, sorted(out.glob("*.ts")))],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
            r = subprocess.run(["node", str(tmp / "build" / "use.js"), json.dumps(cases)], capture_output=True,
                               text=True, encoding="utf-8", timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        results, tag, order_id, env_tag = json.loads(r.stdout)
        self.assertEqual((tag, order_id, env_tag), ("order.placed", "A-1", "order.placed"))
        self.assertEqual(results, expected)

    def test_refusals(self):
        def without(doc, key):
            return {k: v for k, v in doc.items() if k != key}

        ok = event_types_doc()
        placed = "/$defs/order_placed"
        cases = [
            (event_types_doc(**{"x-jobwatch-user-types": False}), "/x-jobwatch-user-types",
             "x-jobwatch-user-types must be true; leave it out for a union of the listed types only"),
            (event_types_doc(**{"x-jobwatch-user-types": "yes"}), "/x-jobwatch-user-types",
             "x-jobwatch-user-types must be true; leave it out for a union of the listed types only"),
            ({**ok, "$defs": {**ok["$defs"], "order_placed": {**ok["$defs"]["order_placed"],
                                                             "x-jobwatch-user-types": True}}},
             f"{placed}/x-jobwatch-user-types", "x-jobwatch-user-types applies to the root of a schema file that "
             "is a oneOf or anyOf union only; move it there"),
            ({**without(ok, "oneOf"), "$ref": "#/$defs/order_placed", "x-jobwatch-user-types": True},
             "/x-jobwatch-user-types", "x-jobwatch-user-types applies to the root of a schema file that is a oneOf "
             "or anyOf union only; move it there"),
            (event_types_doc(**{"x-jobwatch-events": "true"}), "/x-jobwatch-events",
             "x-jobwatch-events must be true or false"),
            (event_types_doc(**{"x-jobwatch-events": 1}), "/x-jobwatch-events",
             "x-jobwatch-events must be true or false"),
            ({**ok, "$defs": {**ok["$defs"], "order_placed": {**ok["$defs"]["order_placed"],
                                                             "x-jobwatch-events": True}}},
             f"{placed}/x-jobwatch-events", "x-jobwatch-events applies to the root of a schema file only; "
             "move it there"),
            ({**without(ok, "oneOf"), "type": "string", "x-jobwatch-events": True}, "/x-jobwatch-events",
             "x-jobwatch-events needs a root that is an object type or a oneOf/anyOf union of object types "
             "(the event types it declares)"),
            ({**ok, "$defs": {**ok["$defs"], "order_placed": {**ok["$defs"]["order_placed"],
                                                             "x-jobwatch-effect": "progres"}}},
             f"{placed}/x-jobwatch-effect", 'x-jobwatch-effect must be "none", "progress" or "log"'),
            ({**ok, "$defs": {**ok["$defs"], "order_placed": {**ok["$defs"]["order_placed"],
                                                             "x-jobwatch-effect": None}}},
             f"{placed}/x-jobwatch-effect", 'x-jobwatch-effect must be "none", "progress" or "log"'),
            ({**ok, "$defs": {**ok["$defs"], "order_id": {**ok["$defs"]["order_id"], "x-jobwatch-effect": "log"}}},
             "/$defs/order_id/x-jobwatch-effect",
             "x-jobwatch-effect applies to an object schema (an event definition) only"),
            (event_types_doc(**{"x-jobwatch-effect": "log"}), "/x-jobwatch-effect",
             "x-jobwatch-effect applies to an object schema (an event definition) only"),
        ]
        for doc, pointer, message in cases:
            self.assert_doc_refused(doc, pointer, message)

    def test_events_document_is_embedded(self):
        for root in ("union", "object"):
            with self.subTest(root=root):
                doc = event_types_doc(**{"x-jobwatch-events": True})
                if root == "object":
                    # A document of one event type: the object at the root.
                    single = doc["$defs"].pop("order_shipped")
                    del doc["oneOf"]
                    doc.update({k: v for k, v in single.items() if k != "description"})
                out = self.generate_doc(doc, "cpp", stem="shop-events")
                hpp = out["shop-events.hpp"]
                text = json.dumps(doc, separators=(",", ":"))
                literal = model.cpp_string_literal(text)
                declaration = f"inline constexpr std::string_view shop_events = {literal};\n"
                self.assertIn("namespace codegen_schemas {\n" + declaration + "}  // namespace codegen_schemas\n", hpp)
                # After codegen_roots and codegen_docs, inside the namespace.
                self.assertLess(hpp.index("namespace codegen_docs"), hpp.index("namespace codegen_schemas"))
                self.assertLess(hpp.index("namespace codegen_schemas"), hpp.index("}  // namespace shop\n"))
                self.assertIn("(`jobwatch::event_types::add`)", hpp)
                # The literal is plain ASCII (\\uXXXX inside the JSON) and means the document again.
                self.assertTrue(literal.isascii())
                self.assertEqual(json.loads(cpp_unescape(literal)), doc)
                # TypeScript: the document generates as any other.
                ts = self.generate_doc(doc, "ts", stem="shop-events")
                self.assertIn("shop-events.ts", ts)
                self.assertNotIn("ShopEventUser", ts["shop-events.ts"])
        # false, or no keyword: no embedded document.
        for doc in (event_types_doc(**{"x-jobwatch-events": False}), event_types_doc()):
            self.assertNotIn("codegen_schemas", self.generate_doc(doc, "cpp")["shop_event.hpp"])

    def test_both_keywords_together(self):
        doc = event_types_doc(**{"x-jobwatch-events": True, "x-jobwatch-user-types": True})
        hpp = self.generate_doc(doc, "cpp")["shop_event.hpp"]
        self.assertIn("::jobwatch::user_event>;", hpp)
        self.assertIn("inline constexpr std::string_view shop_event = ", hpp)

    def test_job_event_is_open(self):
        files = {sf.stem: sf for sf in model.build(sorted(SCHEMAS.glob("*.schema.json")), "jobwatch")}
        union = next(d for d in files["job_event"].decls if d.name == "job_event")
        self.assertTrue(union.user_types)
        self.assertEqual([(f.name, required) for f, required in union.user_fields],
                         [("job_id", True), ("queue", True), ("run_id", False), ("tenant_id", False),
                          ("user_id", False), ("job_type", False), ("id", False), ("time", False)])
        self.assertEqual([stem for stem, sf in files.items() if sf.uses_user_event], ["job_event"])


class EcmaRegexTest(unittest.TestCase):
    """ecma_regex: the ECMA-262 (u mode) parser, and what it refuses."""

    def test_python_only_and_unsupported_syntax_is_refused(self):
        for pattern, why in [("^(?P<w>[a-z]+)", "invalid group"), ("(?<=a)b", "lookbehind"), ("(?<!a)b", "lookbehind"),
                             ("(?i)a", "invalid group"), ("(?#note)a", "invalid group"), ("(?>a)", "invalid group"),
                             (r"\Aa", "invalid escape"), (r"a\Z", "invalid escape"), ("a++", "nothing to apply to"),
                             ("a*+", "nothing to apply to"), ("a{1,2}+", "nothing to apply to"), ("a{,3}", "lone {"),
                             ("[]a]", "lone ']'"), ("[^]a]", "lone ']'"), (r"(a)\1", "backreferences"),
                             (r"(?<n>a)\k<n>", "backreferences"), (r"\p{L}", "property escapes"),
                             ("a{2,1}", "out of order"), ("[z-a]", "out of order"), (r"[\d-z]", "cannot bound a range"),
                             (r"\c1", "\\c must be followed by a letter"), ("(?=a)*", "cannot be quantified"),
                             (r"\01", "followed by a digit"), ("(a", "missing )"), ("a)", "unmatched")]:
            with self.subTest(pattern=pattern):
                with self.assertRaises(ecma_regex.RegexError) as cm:
                    ecma_regex.parse(pattern)
                self.assertIn(why, str(cm.exception))

    def test_ecma_syntax_passes(self):
        for pattern in [r"^[a-z][a-z0-9_.-]*$(?!\n)", r"\(?P", r"[(?P]", r"[\]a]", r"a\++", "a+?", "a*?b??",
                        "(?:a)(?=b)(?!c)", r"[\\]A", r"\\Z", "x[a-z]+y{2,}", "^[A-Za-zÀ-ÿ一-龥]", "(?<n>a)b",
                        r"\cJ\cj", "[^]", "[]", r"\u{1F600}", r"\uD83D\uDE00", r"[\s\S]", r"[\-]", r"\/", r"\0"]:
            with self.subTest(pattern=pattern):
                ecma_regex.parse(pattern)

    @unittest.skipIf(shutil.which("node") is None, "node is not installed")
    def test_python_rendering_decides_as_node(self):
        # The generator decides defaults and enum values with to_python; the C++
        # rendering shares the tree and is checked in codec_tests (EcmaPatternTest).
        cases = json.loads((TESTS / "ecma" / "ecma_patterns.cases.json").read_text(encoding="utf-8"))
        script = ("const cs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
                  "console.log(JSON.stringify(cs.map(c => new RegExp(c[0], 'u').test(c[1]))));")
        pairs = [(c["pattern"], c["string"]) for c in cases["cases"]]
        r = subprocess.run(["node", "-e", script], input=json.dumps(pairs), capture_output=True, text=True,
                           encoding="utf-8", timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for c, node_says in zip(cases["cases"], json.loads(r.stdout)):
            with self.subTest(pattern=c["pattern"], string=c["string"]):
                self.assertEqual(node_says, c["matches"], "the hand-written expectation is wrong")
                self.assertEqual(ecma_regex.search(c["pattern"], c["string"]), c["matches"])


class CommandLineTest(unittest.TestCase):
    def test_help(self):
        r = run_codegen("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("usage: jobwatch-codegen"), r.stdout)
        for option in ("--lang", "--namespace", "--out", "{cpp,ts}"):
            self.assertIn(option, r.stdout)

    def test_missing_arguments_are_a_usage_error(self):
        r = run_codegen("--lang", "cpp")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: jobwatch-codegen", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_every_schema_in_schemas_generates(self):
        paths = sorted(SCHEMAS.glob("*.schema.json"))
        self.assertTrue(paths, "no schemas in schemas/")
        for lang in languages():
            with self.subTest(lang=lang), tempfile.TemporaryDirectory() as tmp:
                out = generate(self, lang, pathlib.Path(tmp) / "jobwatch", paths, namespace="jobwatch")
                ext = "hpp" if lang == "cpp" else "ts"
                self.assertLessEqual({f"{stem_of(p)}.{ext}" for p in paths}, set(out))
                if lang == "ts":
                    self.assertIn("index.ts", out)


if __name__ == "__main__":
    unittest.main()
