"""Checks the JSON Schemas in schemas/ and the sample documents in tests/data/samples/.

Run from the repository root:

    python3 -m unittest discover -s codegen/tests -p 'test_schemas.py'

What is checked:
  * each schema is valid JSON Schema draft 2020-12 (the metaschema);
  * each schema stays inside the subset the code generator supports, has a
    description on every property and $def, and bounds every integer;
  * config.schema.json gives every setting a default, and the defaults validate;
  * every sample validates against its schema (date-time checked, cross-file
    $ref resolved locally), and every branch of each tagged union has a sample;
  * a set of deliberately broken documents is rejected.

Only the standard library and python3-jsonschema (4.10 or later) are used.
"""

import copy
import json
import re
import unittest
import warnings
from pathlib import Path

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

with warnings.catch_warnings():
    # RefResolver is deprecated from jsonschema 4.18 on, but is the API that 4.10 has.
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonschema import RefResolver

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"
SAMPLE_DIR = ROOT / "tests" / "data" / "samples"

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://jobwatch.dev/schemas/"
JS_SAFE_MAX = 9007199254740991

EXPECTED_STEMS = {
    "job_event", "job_snapshot", "summary", "health_report", "alert", "dead_letter_entry",
    "client_message", "server_message", "config",
}

# ---------------------------------------------------------------------------
# RFC 3339 date-time

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


def _is_leap_year(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year, month):
    if month == 2:
        return 29 if _is_leap_year(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def is_rfc3339_date_time(value):
    """RFC 3339 section 5.6 date-time: full-date "T" full-time, offset required.

    T and Z may be lower case; a leap second (:60) is allowed; the day must exist
    in its month (Gregorian leap years). Non-strings pass (type is checked elsewhere).
    """
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.fullmatch(value)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(7) is not None and (int(m.group(7)) > 23 or int(m.group(8)) > 59):
        return False
    return True


FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date-time")(is_rfc3339_date_time)

# ---------------------------------------------------------------------------
# Loading


def _load_schemas():
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        schemas[path.name[: -len(".schema.json")]] = json.loads(path.read_text(encoding="utf-8"))
    return schemas


SCHEMAS = _load_schemas()
STORE = {doc.get("$id", stem): doc for stem, doc in SCHEMAS.items()}


def _no_network(uri):
    raise AssertionError("reference to a schema outside schemas/: " + uri)


def make_validator(stem, schema=None):
    """A validator for SCHEMAS[stem] (or a subschema of it) that resolves every $ref locally."""
    root = SCHEMAS[stem]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        resolver = RefResolver.from_schema(root, store=STORE,
                                           handlers={"http": _no_network, "https": _no_network})
        return Draft202012Validator(root if schema is None else schema, resolver=resolver,
                                    format_checker=FORMAT_CHECKER)


def resolve_ref(stem, ref):
    """Resolves a $ref of the supported forms to (stem, schema); raises KeyError when it does not exist."""
    file_part, _, fragment = ref.partition("#")
    target = stem if file_part == "" else file_part[: -len(".schema.json")]
    node = SCHEMAS[target]
    if fragment:
        for token in fragment.split("/")[1:]:
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return target, node


def walk(node, pointer=""):
    """Yields (pointer, schema) for every schema object below node, node included."""
    yield pointer, node
    if not isinstance(node, dict):
        return
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            yield from walk(sub, f"{pointer}/{key}/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from walk(node[key], f"{pointer}/{key}")
    for i, sub in enumerate(node.get("oneOf", [])):
        yield from walk(sub, f"{pointer}/oneOf/{i}")


# ---------------------------------------------------------------------------
# The generator's subset

# x-cpp-type: a C++ type hint; x-jobwatch-effect: what an event type does to its job (docs/schemas.md)
ANNOTATIONS = {"title", "description", "default", "examples", "x-cpp-type", "x-jobwatch-effect"}
ASSERTIONS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "$ref", "format", "pattern", "oneOf",
}
# x-jobwatch-user-types: an open event union; x-jobwatch-events: a document of event types (docs/schemas.md)
ROOT_ONLY = {"$schema", "$id", "$defs", "x-jobwatch-user-types", "x-jobwatch-events"}
SIMPLE_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
TYPE_KEYWORDS = {
    "object": {"properties", "required", "additionalProperties"},
    "array": {"items", "minItems", "maxItems"},
    "string": {"enum", "const", "minLength", "maxLength", "format", "pattern"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "boolean": set(),
}
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
REF_FORM = re.compile(r"(?:[a-z][a-z0-9_]*\.schema\.json)?(?:#/\$defs/[a-z][a-z0-9_]*)?")
CPP_KEYWORDS = set("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
    char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace new noexcept not not_eq
    nullptr operator or or_eq private protected public register reinterpret_cast requires return
    short signed sizeof static static_assert static_cast struct switch template this thread_local
    throw true try typedef typeid typename union unsigned using virtual void volatile wchar_t while
    xor xor_eq final override import module
""".split())


def subset_problems(stem, doc):
    """Everything in one schema file that the generator would refuse, as 'pointer: reason' strings."""
    problems = []

    def bad(pointer, reason):
        problems.append(f"{stem}.schema.json#{pointer}: {reason}")

    for pointer, node in walk(doc):
        if node is True or node == {}:
            continue
        if not isinstance(node, dict):
            bad(pointer, "a schema must be an object or true")
            continue
        allowed = ANNOTATIONS | ASSERTIONS | (ROOT_ONLY if pointer == "" else set())
        for key in node.keys() - allowed:
            bad(pointer, f"keyword {key!r} is not in the supported subset")

        types = node.get("type")
        if isinstance(types, list):
            if len(types) != 2 or types[1] != "null" or types[0] not in SIMPLE_TYPES:
                bad(pointer, f"type {types!r}: only a single type or [T, \"null\"]")
                continue
            base = types[0]
        elif types is None:
            base = None
        elif types in SIMPLE_TYPES:
            base = types
        else:
            bad(pointer, f"type {types!r} is not supported")
            continue

        if base is None:
            kinds = [k for k in ("$ref", "oneOf") if k in node]
            rest = (node.keys() & ASSERTIONS) - {"$ref", "oneOf"}
            if len(kinds) > 1 or rest:
                bad(pointer, "a schema without type may only hold one $ref or one oneOf (or nothing: any)")
        else:
            if "$ref" in node or "oneOf" in node:
                bad(pointer, "$ref and oneOf do not combine with type")
            others = set().union(*(v for k, v in TYPE_KEYWORDS.items() if k != base)) - TYPE_KEYWORDS[base]
            for key in node.keys() & others:
                bad(pointer, f"keyword {key!r} does not apply to type {base}")

        if base == "object":
            if "additionalProperties" not in node:
                bad(pointer, "an object must set additionalProperties explicitly")
            extra = node.get("additionalProperties")
            if isinstance(extra, dict) or extra is True:
                if "properties" in node:
                    bad(pointer, "a schema-valued additionalProperties is only for pure maps (no properties)")
            elif extra is not False and extra is not None:
                bad(pointer, "additionalProperties must be false or a schema")
            props = node.get("properties", {})
            for name in node.get("required", []):
                if name not in props:
                    bad(pointer, f"required {name!r} is not a property")
            if len(set(node.get("required", []))) != len(node.get("required", [])):
                bad(pointer, "required lists a name twice")
            for name, sub in props.items():
                # A C++ keyword is allowed (metrics.public, as the settings are spelled):
                # the generator names its member with a trailing underscore (`public_`).
                if not SNAKE_CASE.fullmatch(name):
                    bad(f"{pointer}/properties/{name}", "property names must be snake_case")
                if not isinstance(sub, dict) or not isinstance(sub.get("description"), str) \
                        or not sub["description"].strip():
                    bad(f"{pointer}/properties/{name}", "every property needs a description")

        if base == "integer":
            lo, hi = node.get("minimum"), node.get("maximum")
            if not isinstance(lo, int) or not isinstance(hi, int):
                bad(pointer, "an integer needs an explicit integer minimum and maximum")
            elif not -JS_SAFE_MAX <= lo <= hi <= JS_SAFE_MAX:
                bad(pointer, f"integer bounds [{lo}, {hi}] must be ordered and within the JS safe range")
        if base == "number" and "minimum" in node and "maximum" in node and node["minimum"] > node["maximum"]:
            bad(pointer, "minimum > maximum")
        if base == "string":
            if "minLength" in node and "maxLength" in node and node["minLength"] > node["maxLength"]:
                bad(pointer, "minLength > maxLength")
            if "format" in node and node["format"] != "date-time":
                bad(pointer, f"format {node['format']!r}: only date-time is supported")
            if "pattern" in node:
                try:
                    re.compile(node["pattern"])
                except re.error as e:
                    bad(pointer, f"pattern does not compile: {e}")
                if re.search(r"\\[dDwWsSbB]", node["pattern"].replace("[\\s\\S]", "")):
                    bad(pointer, "\\d \\w \\s \\b differ between ECMA-262 and Python; spell the class out")
        if base == "array" and "items" not in node:
            bad(pointer, "an array needs items")
        if "enum" in node:
            values = node["enum"]
            if not values or not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
                bad(pointer, "enum must be a non-empty list of distinct strings")
            elif any(not SNAKE_CASE.fullmatch(v) or v in CPP_KEYWORDS for v in values):
                bad(pointer, "enum values become C++ enumerators: snake_case, not a keyword")
        if "const" in node and not isinstance(node["const"], str):
            bad(pointer, "const must be a string")

        if "$ref" in node:
            ref = node["$ref"]
            if not ref or not REF_FORM.fullmatch(ref):
                bad(pointer, f"$ref {ref!r}: only #/$defs/x, file.schema.json and file.schema.json#/$defs/x")
            else:
                try:
                    resolve_ref(stem, ref)
                except (KeyError, TypeError):
                    bad(pointer, f"$ref {ref!r} does not resolve")

        if "oneOf" in node:
            problems.extend(f"{stem}.schema.json#{pointer}: {p}" for p in union_problems(stem, node["oneOf"]))
    return problems


def union_problems(stem, branches):
    """A oneOf must be $refs to objects that share a required const discriminator with distinct values."""
    if not branches:
        return ["oneOf needs branches"]
    targets = []
    for branch in branches:
        if not isinstance(branch, dict) or set(branch) != {"$ref"}:
            return ["every oneOf branch must be exactly {\"$ref\": ...}"]
        try:
            target_stem, target = resolve_ref(stem, branch["$ref"])
        except (KeyError, TypeError):
            return [f"oneOf branch {branch['$ref']!r} does not resolve"]
        if target.get("type") != "object":
            return [f"oneOf branch {branch['$ref']!r} is not an object type"]
        targets.append(target)
    candidates = None
    for target in targets:
        tags = {name for name, sub in target.get("properties", {}).items()
                if name in target.get("required", []) and isinstance(sub.get("const"), str)}
        candidates = tags if candidates is None else candidates & tags
    for name in sorted(candidates or ()):
        values = [t["properties"][name]["const"] for t in targets]
        if len(set(values)) == len(values):
            return []
    return ["oneOf branches share no required const discriminator with distinct values"]


def discriminator(stem, node):
    """(property name, {const value: branch $ref}) of a tagged union."""
    targets = {b["$ref"]: resolve_ref(stem, b["$ref"])[1] for b in node["oneOf"]}
    for name in sorted(next(iter(targets.values()))["properties"]):
        values = {}
        for ref, target in targets.items():
            sub = target["properties"].get(name, {})
            if name in target.get("required", []) and "const" in sub:
                values[sub["const"]] = ref
        if len(values) == len(targets):
            return name, values
    raise AssertionError(f"{stem}: no discriminator")


# ---------------------------------------------------------------------------


class SchemaFileTest(unittest.TestCase):
    def test_all_expected_schemas_exist(self):
        self.assertTrue(EXPECTED_STEMS <= set(SCHEMAS), sorted(EXPECTED_STEMS - set(SCHEMAS)))

    def test_metaschema(self):
        for stem, doc in SCHEMAS.items():
            with self.subTest(schema=stem):
                Draft202012Validator.check_schema(doc)

    def test_header(self):
        for stem, doc in SCHEMAS.items():
            with self.subTest(schema=stem):
                self.assertEqual(doc.get("$schema"), SCHEMA_URI)
                self.assertEqual(doc.get("$id"), f"{ID_BASE}{stem}.schema.json")
                self.assertEqual(doc.get("title"), stem)
                self.assertTrue(doc.get("description"))

    def test_two_space_indent(self):
        for path in sorted(SCHEMA_DIR.glob("*.schema.json")) + sorted(SAMPLE_DIR.glob("*.json")):
            with self.subTest(file=path.name):
                text = path.read_text(encoding="utf-8")
                self.assertTrue(text.endswith("}\n") or text.endswith("]\n"))
                for number, line in enumerate(text.splitlines(), 1):
                    indent = len(line) - len(line.lstrip(" "))
                    self.assertEqual(indent % 2, 0, f"line {number}")
                    self.assertNotIn("\t", line, f"line {number}")

    def test_generator_subset(self):
        for stem, doc in SCHEMAS.items():
            with self.subTest(schema=stem):
                self.assertEqual(subset_problems(stem, doc), [])

    def test_every_property_has_a_description(self):
        # Also covered by test_generator_subset; kept separate so the failure says what it is.
        for stem, doc in SCHEMAS.items():
            for pointer, node in walk(doc):
                for name, sub in (node.get("properties", {}) if isinstance(node, dict) else {}).items():
                    with self.subTest(schema=stem, property=f"{pointer}/properties/{name}"):
                        self.assertIsInstance(sub, dict)
                        self.assertTrue(sub.get("description"))

    def test_every_integer_is_bounded(self):
        for stem, doc in SCHEMAS.items():
            for pointer, node in walk(doc):
                if isinstance(node, dict) and node.get("type") in ("integer", ["integer", "null"]):
                    with self.subTest(schema=stem, at=pointer):
                        self.assertIn("minimum", node)
                        self.assertIn("maximum", node)

    def test_defs_are_distinct_cpp_type_names(self):
        # $defs become C++ types (and TS types) that may end up in one namespace: no
        # clashes between files, with a title, or with C++ keywords.
        titles = {doc["title"] for doc in SCHEMAS.values()}
        seen = {}
        for stem, doc in SCHEMAS.items():
            for name, sub in doc.get("$defs", {}).items():
                with self.subTest(schema=stem, definition=name):
                    self.assertRegex(name, SNAKE_CASE)
                    self.assertNotIn(name, CPP_KEYWORDS)
                    self.assertNotIn(name, titles)
                    self.assertNotIn(name, seen, f"also defined in {seen.get(name)}")
                    self.assertTrue(sub.get("description"))
                    seen[name] = stem

    def test_defaults_and_examples_are_valid(self):
        for stem, doc in SCHEMAS.items():
            for pointer, node in walk(doc):
                if not isinstance(node, dict):
                    continue
                values = ([node["default"]] if "default" in node else []) + node.get("examples", [])
                if not values:
                    continue
                validator = make_validator(stem, {k: v for k, v in node.items() if k not in ("default", "examples")})
                for value in values:
                    with self.subTest(schema=stem, at=pointer, value=value):
                        self.assertEqual([e.message for e in validator.iter_errors(value)], [])

    def test_config_settings_all_have_defaults(self):
        # Every setting reachable through properties (not through the token and per-queue maps,
        # whose entries are written by the user) has a default, so an empty file is a full config.
        def check(stem, node, pointer):
            if "$ref" in node:
                check(stem, resolve_ref(stem, node["$ref"])[1], pointer)
                return
            for name, sub in node.get("properties", {}).items():
                with self.subTest(setting=f"{pointer}/{name}"):
                    self.assertIn("default", sub)
                check(stem, sub, f"{pointer}/{name}")

        config = SCHEMAS["config"]
        self.assertNotIn("required", config)
        check("config", config, "")

    def test_config_defaults_form_a_valid_config(self):
        def materialize(node):
            # A section takes the defaults of its settings; a leaf takes its own default.
            if "$ref" in node:
                target = resolve_ref("config", node["$ref"])[1]
                return materialize(target) if "properties" in target else node["default"]
            if "properties" in node:
                return {name: materialize(sub) for name, sub in node["properties"].items()}
            return node["default"]

        full = materialize(SCHEMAS["config"])
        self.assertEqual(full["gateway"]["port"], 8080)
        self.assertEqual(full["dlq"]["queues"], {})
        self.assertEqual(full["auth"]["mode"], "open")
        self.assertEqual(full["log"]["level"], "info")
        self.assertEqual([e.message for e in make_validator("config").iter_errors(full)], [])
        self.assertEqual([e.message for e in make_validator("config").iter_errors({})], [])

    def test_patterns_reject_a_trailing_newline_like_ecma(self):
        # Python's $ also matches before a final newline; ECMA-262's does not. The
        # patterns end with $(?!\n) so that both engines decide alike.
        room = make_validator("client_message", {"$ref": "#/$defs/room_name"})
        ident = make_validator("job_event", {"$ref": "#/$defs/identifier"})
        for good in ("alerts", "health", "job:42", "run:nightly-2024-05-01", "user:alice@example.com",
                     "queue:" + "q" * 200, "tenant:a:b"):
            self.assertTrue(room.is_valid(good), good)
        for bad in ("alerts\n", "job:42\n", "job:", "jobs:42", "job:4 2", "job:ü", "alerts2", "ALERTS",
                    " alerts", "queue:" + "q" * 201, "job:42\nx"):
            self.assertFalse(room.is_valid(bad), repr(bad))
        self.assertTrue(ident.is_valid("job-42"))
        for bad in ("job-42\n", "", "job 42", "job/42", "jöb", "x" * 201):
            self.assertFalse(ident.is_valid(bad), repr(bad))


class DateTimeFormatTest(unittest.TestCase):
    def test_valid(self):
        for value in ("2024-05-01T12:30:00Z", "2024-05-01t12:30:00z", "2024-05-01T12:30:00.123456789+02:00",
                      "2024-02-29T00:00:00Z", "2000-02-29T00:00:00-00:00", "2016-12-31T23:59:60Z",
                      "1990-12-31T15:59:60-08:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9+23:59"):
            self.assertTrue(is_rfc3339_date_time(value), value)

    def test_invalid(self):
        for value in ("2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
                      "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-05-00T00:00:00Z",
                      "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:00:61Z",
                      "2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2024-05-01T12:00Z",
                      "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+2:00", "2024-05-01T12:00:00+24:00",
                      "2024-05-01T12:00:00+01:60", "2024-05-01T12:00:00Z\n", "24-05-01T12:00:00Z",
                      "2024-05-01", "2024-05-01T12:00:00\u0661Z", "２０２４-05-01T12:00:00Z", ""):
            self.assertFalse(is_rfc3339_date_time(value), repr(value))

    def test_is_used_by_the_validator(self):
        validator = make_validator("job_event", {"$ref": "#/$defs/timestamp"})
        self.assertTrue(validator.is_valid("2024-02-29T00:00:00Z"))
        self.assertFalse(validator.is_valid("2023-02-29T00:00:00Z"))


def _load_samples(stem):
    return json.loads((SAMPLE_DIR / f"{stem}.json").read_text(encoding="utf-8"))


class SampleTest(unittest.TestCase):
    def test_every_schema_has_samples(self):
        for stem in SCHEMAS:
            with self.subTest(schema=stem):
                samples = _load_samples(stem)
                self.assertIsInstance(samples, list)
                self.assertGreaterEqual(len(samples), 4)

    def test_samples_are_valid(self):
        for stem in SCHEMAS:
            validator = make_validator(stem)
            for i, sample in enumerate(_load_samples(stem)):
                with self.subTest(schema=stem, sample=i):
                    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(sample)]
                    self.assertEqual(errors, [])

    def test_samples_cover_every_union_branch(self):
        for stem, doc in SCHEMAS.items():
            if "oneOf" not in doc:
                continue
            with self.subTest(schema=stem):
                tag, branches = discriminator(stem, doc)
                seen = {sample[tag] for sample in _load_samples(stem)}
                self.assertEqual(seen, set(branches))

    def test_snapshot_samples_cover_every_kind(self):
        tag, kinds = discriminator("server_message", SCHEMAS["server_message"]["$defs"]["snapshot"])
        self.assertEqual(tag, "kind")
        seen = {m["snapshot"]["kind"] for m in _load_samples("server_message") if "snapshot" in m}
        self.assertEqual(seen, set(kinds))

    def test_samples_exercise_unicode_and_fractions(self):
        text = "".join((SAMPLE_DIR / f"{stem}.json").read_text(encoding="utf-8") for stem in SCHEMAS)
        self.assertTrue(any(ord(c) > 127 for c in text), "no non-ASCII text in the samples")

        def fractions(value):
            if isinstance(value, float) and not value.is_integer():
                yield value
            elif isinstance(value, dict):
                for v in value.values():
                    yield from fractions(v)
            elif isinstance(value, list):
                for v in value:
                    yield from fractions(v)

        self.assertIn(42.5, list(fractions([_load_samples(stem) for stem in SCHEMAS])))


def _with(doc, **changes):
    """A deep copy of doc with top-level keys replaced (value None deletes the key)."""
    out = copy.deepcopy(doc)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


PROGRESS = {"type": "job.progress", "job_id": "job-1", "queue": "emails", "percent": 50}
STARTED = {"type": "job.started", "job_id": "job-1", "queue": "emails", "attempt": 1}
FAILED = {"type": "job.failed", "job_id": "job-1", "queue": "emails", "error": "boom", "attempt": 1,
          "will_retry": False}


class RejectTest(unittest.TestCase):
    """Documents that must not validate, each one change away from a valid one."""

    CASES = [
        ("job_event", _with(PROGRESS, percent=101), "percent above 100"),
        ("job_event", _with(PROGRESS, percent=-0.5), "percent below 0"),
        ("job_event", _with(PROGRESS, percent="50"), "percent as a string"),
        ("job_event", _with(PROGRESS, percent=None), "missing percent"),
        ("job_event", _with(PROGRESS, counters={"rows": -1}), "negative counter"),
        ("job_event", _with(PROGRESS, counters={"rows": 1.5}), "fractional counter"),
        ("job_event", _with(PROGRESS, step="x" * 501), "step too long"),
        ("job_event", _with(PROGRESS, job_id=""), "empty job_id"),
        ("job_event", _with(PROGRESS, job_id="job 1"), "job_id with a space"),
        ("job_event", _with(PROGRESS, queue=None), "missing queue"),
        ("job_event", _with(PROGRESS, type="job.unknown"), "unknown type"),
        ("job_event", _with(PROGRESS, type=None), "missing type"),
        ("job_event", _with(PROGRESS, extra=1), "unknown property"),
        ("job_event", _with(PROGRESS, jobId="job-1"), "camelCase property"),
        ("job_event", _with(PROGRESS, time="2023-02-29T10:00:00Z"), "29 February of a common year"),
        ("job_event", _with(PROGRESS, time="2024-05-01 10:00:00Z"), "date-time with a space"),
        ("job_event", _with(PROGRESS, time="2024-05-01T10:00:00"), "date-time without offset"),
        ("job_event", _with(STARTED, attempt=None), "started without attempt"),
        ("job_event", _with(STARTED, attempt=0), "attempt 0"),
        ("job_event", _with(STARTED, attempt=1.5), "fractional attempt"),
        ("job_event", _with(STARTED, attempt=True), "boolean attempt"),
        ("job_event", _with(STARTED, percent=10), "a field of another event type"),
        ("job_event", _with(FAILED, will_retry=None), "failed without will_retry"),
        ("job_event", _with(FAILED, error=""), "empty error"),
        ("job_event", {"type": "job.log", "job_id": "j", "queue": "q", "level": "fatal", "message": "x"},
         "unknown log level"),
        ("job_event", {"type": "job.queued", "job_id": "j", "queue": "q", "priority": 1001}, "priority too high"),
        ("job_event", {"type": "job.queued", "job_id": "j", "queue": "q", "timeout_ms": JS_SAFE_MAX + 1},
         "timeout beyond the JS safe range"),
        ("job_event", [PROGRESS], "an array"),
        ("job_snapshot", {"kind": "job_snapshot", "job_id": "j", "queue": "q", "state": "done", "attempt": 0,
                          "progress": {"percent": 0}, "updated_at": "2024-05-01T00:00:00Z", "seq": 1},
         "unknown state"),
        ("job_snapshot", {"kind": "job_snapshot", "job_id": "j", "queue": "q", "state": "queued", "attempt": 1001,
                          "progress": {"percent": 0}, "updated_at": "2024-05-01T00:00:00Z", "seq": 1},
         "attempt too high"),
        ("job_snapshot", {"kind": "summary", "job_id": "j", "queue": "q", "state": "queued", "attempt": 0,
                          "progress": {"percent": 0}, "updated_at": "2024-05-01T00:00:00Z", "seq": 1},
         "wrong kind"),
        ("alert", {"id": "a", "kind": "timeout", "status": "firing", "severity": "urgent", "title": "t",
                   "message": "m", "time": "2024-05-01T00:00:00Z", "context": {}}, "unknown severity"),
        ("alert", {"id": "a", "kind": "timeout", "status": "firing", "severity": "low", "title": "t",
                   "message": "m", "time": "2024-05-01T00:00:00Z", "context": {"success_rate": 1.2}},
         "success rate above 1"),
        ("dead_letter_entry", {"job_id": "j", "queue": "q", "error": "e", "attempts": 1}, "missing failed_at"),
        ("client_message", {"type": "subscribe", "room": "alerts\n"}, "room with a trailing newline"),
        ("client_message", {"type": "subscribe", "room": "jobs:1"}, "unknown room kind"),
        ("client_message", {"type": "subscribe", "room": "job:1", "since": -1}, "negative since"),
        ("client_message", {"type": "ping", "id": "x" * 65}, "request id too long"),
        ("client_message", {"type": "ping", "id": ""}, "empty request id"),
        ("client_message", {"type": "publish", "event": _with(PROGRESS, percent=101)}, "publish of a bad event"),
        ("client_message", {"type": "publish"}, "publish without event"),
        ("client_message", {"type": "hello"}, "unknown message type"),
        ("server_message", {"type": "error", "code": "oops", "message": "m"}, "unknown error code"),
        ("server_message", {"type": "error", "code": "internal", "message": "m", "path": "event/x"},
         "path that is not a JSON Pointer"),
        ("server_message", {"type": "error", "code": "internal", "message": "m", "path": "/a~2b"},
         "JSON Pointer with a bad escape"),
        ("server_message", {"type": "event", "room": "job:1", "seq": 1, "event": _with(STARTED, attempt=0)},
         "event message with a bad event"),
        ("server_message", {"type": "subscribed", "room": "job:1", "seq": 1,
                            "snapshot": {"kind": "job_snapshot"}}, "incomplete snapshot"),
        ("server_message", {"type": "welcome", "connection_id": "c", "server_version": "0.1.0", "protocol": 0,
                            "heartbeat_ms": 0, "max_message_bytes": 1}, "protocol 0"),
        ("summary", {"kind": "summary", "scope": "all", "updated_at": "2024-05-01T00:00:00Z",
                     "counts": {"total": 0, "queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0},
                     "success_rate": 1.5, "by_queue": {}, "executions": 0,
                     "latency": {"count": 0, "avg_ms": 0, "p50_ms": 0, "p95_ms": 0, "p99_ms": 0, "max_ms": 0},
                     "wait": {"count": 0, "avg_ms": 0, "p50_ms": 0, "p95_ms": 0, "p99_ms": 0, "max_ms": 0},
                     "throughput": {"per_second_1m": 0, "per_second_5m": 0}}, "success rate above 1"),
        ("health_report", {"kind": "health_report", "status": "fine", "timestamp": "2024-05-01T00:00:00Z",
                           "queues": [], "issues": [],
                           "summary": {"total_queues": 0, "healthy_queues": 0, "degraded_queues": 0,
                                       "unhealthy_queues": 0,
                                       "total_jobs": {"waiting": 0, "active": 0, "completed": 0, "failed": 0}}},
         "unknown health status"),
        ("config", {"gateway": {"port": 70000}}, "port out of range"),
        ("config", {"gateway": {"prot": 8080}}, "misspelt setting"),
        ("config", {"metricz": {}}, "unknown section"),
        ("config", {"auth": {"mode": "oauth"}}, "unknown auth mode"),
        ("config", {"auth": {"tokens": {"t": {"scopes": ["read"]}}}}, "principal without subject"),
        ("config", {"auth": {"tokens": {"t": {"subject": "s", "scopes": ["root"]}}}}, "unknown scope"),
        ("config", {"dlq": {"queues": {"q": {"threshold": 0}}}}, "zero threshold override"),
        ("config", {"dlq": {"run_success_rate_threshold": 80}}, "rate given in percent"),
    ]

    def test_rejected(self):
        for stem, doc, reason in self.CASES:
            with self.subTest(schema=stem, case=reason):
                self.assertFalse(make_validator(stem).is_valid(doc), reason)


if __name__ == "__main__":
    unittest.main()
