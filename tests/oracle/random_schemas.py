#!/usr/bin/python3
"""Seeded random schemas over the whole vocabulary jobwatch-codegen supports,
with documents decided by python3-jsonschema: the generated parsers (C++ and
TypeScript) must agree with every decision.

    random_schemas.py --out DIR [--count 500] [--docs 20] [--seed S]

writes DIR/random_NNN.schema.json (NNN from 000) and DIR/random_corpus.jsonl,
one line per document in the format of make_corpus.py:
{"schema": stem, "doc_hex": HEX, "valid": BOOL, "mutation": NAME}.

What is generated: every type and type lists (null included), properties with
names that need escaping, required (also without properties),
additionalProperties (absent, true, false, a schema beside properties),
items, min/maxItems and min/maxLength (sometimes written as 2.0), bounds,
multipleOf (integer and float), const and enum of any JSON value (U+0000 in
strings), patterns, date-time, $defs reached by escaped and percent-encoded
$refs, oneOf/anyOf tagged by a const, and defaults that do or do not validate.

Where the oracle's dialect differs from ECMA-262 the generator stays inside
what both decide alike, so that the oracle stays right: patterns use literal
characters, ASCII classes, `\\d`, `.`, groups, alternation and quantifiers,
and document strings never hold a line terminator or a non-ASCII digit
(ECMA-specific pattern semantics are tested against hand-written
expectations in codegen/tests/ecma/). Composite enum values hold no numbers
or booleans (python3-jsonschema 4.10 compares them with Python's ==, for
which true == 1), and numbers stay far inside int64 and double.
"""

import argparse
import json
import os
import random
import sys
from pathlib import Path
from urllib.parse import quote

from jsonschema import Draft202012Validator, FormatChecker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import is_date_time  # noqa: E402

ALPHABET = "abcxyz019 -_é😀"
NAMES = ["a", "b", "id", "name", "x-y", "a b", "é", "quote\"d", "new\nline", "", "class", "1st", "A_B", "a_b",
         "tab\t", "slash/", "tilde~", "back\\slash", "*/", "toString", "nul\u0000", "constructor", "π"]
PATTERN_CHARS = "abcxyz019"


def checker():
    fc = FormatChecker(formats=())
    fc.checks("date-time")(lambda v: not isinstance(v, str) or is_date_time(v))
    return fc


class SchemaGen:
    def __init__(self, rng, stem):
        self.rng = rng
        self.stem = stem
        self.defs = {}
        self.def_keys = []

    def count(self, lo, hi):
        n = self.rng.randint(lo, hi)
        return float(n) if self.rng.random() < 0.2 else n

    def pattern(self, depth=0):
        r = self.rng
        parts = []
        for _ in range(r.randint(1, 3)):
            kind = r.random()
            if kind < 0.35:
                atom = r.choice(PATTERN_CHARS)
            elif kind < 0.55:
                lo = r.choice("abcx")
                atom = f"[{lo}-{chr(ord(lo) + r.randint(0, 3))}]"
            elif kind < 0.65:
                atom = "[^" + "".join(r.sample(PATTERN_CHARS, 2)) + "]"
            elif kind < 0.75:
                atom = r"\d"
            elif kind < 0.82:
                atom = "."
            elif depth < 1:
                atom = "(?:" + self.pattern(depth + 1) + "|" + self.pattern(depth + 1) + ")"
            else:
                atom = r.choice(PATTERN_CHARS)
            q = r.choice(["", "", "?", "*", "+", "{1,2}", "{2}", "*?"])
            parts.append(atom + q)
        text = "".join(parts)
        if depth == 0:
            if r.random() < 0.4:
                text = "^" + text
            if r.random() < 0.3:
                text += "$"
        return text

    def scalar_value(self):
        r = self.rng
        return r.choice([None, True, False, r.randint(-5, 5), r.choice([0.5, -2.5, 1e3, 7.0]),
                         r.choice(["", "a", "é", "a\u0000b", "x y", "😀", "3"])])

    def composite_value(self):
        r = self.rng
        if r.random() < 0.5:
            return [r.choice(["a", None, "b"]) for _ in range(r.randint(0, 2))]
        return {r.choice(["k", "v", "é"]): r.choice(["a", None]) for _ in range(r.randint(0, 2))}

    def value(self):
        return self.composite_value() if self.rng.random() < 0.2 else self.scalar_value()

    def schema(self, depth):
        r = self.rng
        roll = r.random()
        if depth > 2:
            roll = min(roll, 0.59)
        if roll < 0.06:
            return {"const": self.value()}
        if roll < 0.13:
            values = []
            for _ in range(r.randint(1, 4)):
                v = self.value()
                if not any(json.dumps(v) == json.dumps(x) for x in values):
                    values.append(v)
            node = {"enum": values}
            if r.random() < 0.3 and all(isinstance(v, str) for v in values):
                node["type"] = "string"
            return node
        if roll < 0.16:
            return r.choice([True, {}])
        if roll < 0.60:
            t = r.choice(["string", "string", "integer", "number", "boolean", "null"])
            node = self.typed(t, depth)
            if r.random() < 0.15:
                other = r.choice([x for x in ("string", "integer", "null", "boolean", "array") if x != t])
                node["type"] = [t, other]
                node.update({k: v for k, v in self.typed(other, depth).items() if k != "type"})
            return node
        if roll < 0.72:
            return self.typed("array", depth)
        if roll < 0.80 and self.def_keys:
            key = r.choice(self.def_keys)
            token = key.replace("~", "~0").replace("/", "~1")
            # A % must be percent-encoded in a URI fragment; other keys are encoded at random.
            encode = "%" in token or r.random() < 0.5
            return {"$ref": "#/$defs/" + (quote(token, safe="/~$") if encode else token)}
        return self.typed("object", depth)

    def typed(self, t, depth):
        r = self.rng
        node = {"type": t}
        if t == "string":
            if r.random() < 0.3:
                node["minLength"] = self.count(0, 2)
            if r.random() < 0.3:
                node["maxLength"] = self.count(1, 4)
            if r.random() < 0.35:
                node["pattern"] = self.pattern()
            elif r.random() < 0.08:
                node["format"] = "date-time"
        elif t in ("integer", "number"):
            step = 1 if t == "integer" else 0.5
            for kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                if r.random() < 0.25:
                    node[kw] = r.randint(-4, 4) * step
            if r.random() < 0.15:
                node["multipleOf"] = r.choice([2, 3, 0.5, 2.0, 0.25])
        elif t == "array":
            node["items"] = self.schema(depth + 1) if r.random() < 0.85 else True
            if r.random() < 0.3:
                node["minItems"] = self.count(0, 2)
            if r.random() < 0.3:
                node["maxItems"] = self.count(1, 3)
        elif t == "object":
            props = {}
            for _ in range(r.randint(0, 4)):
                props[r.choice(NAMES)] = self.schema(depth + 1)
            if props or r.random() < 0.7:
                node["properties"] = props
            names = list(props) + ([r.choice(NAMES)] if r.random() < 0.2 else [])
            required = [n for n in dict.fromkeys(names) if r.random() < 0.5]
            addl = r.random()
            if addl < 0.35:
                node["additionalProperties"] = False
                required = [n for n in required if n in props]
            elif addl < 0.55:
                node["additionalProperties"] = self.schema(depth + 1)
            elif addl < 0.65:
                node["additionalProperties"] = True
            if required:
                node["required"] = required
            if "properties" not in node and "required" not in node and node.get("additionalProperties") is False:
                node["properties"] = {"p": {"type": "integer"}}
        if r.random() < 0.1:
            node["default"] = self.value()
        return node

    def document(self):
        r = self.rng
        for i in range(r.randint(0, 2)):
            # Type names are global to one generator run: the stem keeps them apart.
            key = r.choice(["d", "per%cent", "sl/ash", "ti~lde", "é"]) + f"{i}_{self.stem[-3:]}"
            # Only earlier entries can be referenced: no recursive types.
            self.defs[key] = self.schema(1)
            self.def_keys.append(key)
        root = self.typed("object", 0)
        # The root is a struct (an object alias has no parse<T> of its own).
        root.setdefault("properties", {})
        if r.random() < 0.15:
            root = self.union()
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://jobwatch.dev/tests/random/{self.stem}.schema.json",
                "title": self.stem, "description": "A random schema.", **root}
        if self.defs:
            root["$defs"] = self.defs
        return root

    def union(self):
        r = self.rng
        tags = r.sample(["a", "b", "c", "é", "x\u0000"], r.randint(2, 3))
        branches = []
        for tag in tags:
            key = f"branch{len(branches)}_{self.stem[-3:]}"
            node = self.typed("object", 1)
            node.setdefault("properties", {})["type"] = {"const": tag}
            node["required"] = sorted(set(node.get("required", [])) | {"type"})
            if node.get("additionalProperties") is not False:
                node["additionalProperties"] = False
            node["required"] = [n for n in node["required"] if n in node["properties"]]
            self.defs[key] = node
            branches.append({"$ref": f"#/$defs/{key}"})
        return {r.choice(["oneOf", "anyOf"]): branches}


class DocGen:
    """Documents for a schema: mostly built to satisfy it, then mutated."""

    def __init__(self, rng, root):
        self.rng = rng
        self.root = root

    def resolve(self, ref):
        from urllib.parse import unquote
        frag = unquote(ref.partition("#")[2])
        node = self.root
        for tok in frag.lstrip("/").split("/"):
            node = node[tok.replace("~1", "/").replace("~0", "~")]
        return node

    def string(self, node):
        r = self.rng
        n = r.randint(0, 4)
        if node.get("format") == "date-time" and r.random() < 0.7:
            return r.choice(["2024-05-01T12:30:00Z", "2024-02-30T00:00:00Z", "2023-12-31T23:59:60+01:00"])
        return "".join(r.choice(ALPHABET) for _ in range(n))

    def make(self, node, depth=0):
        r = self.rng
        if node is True or node == {}:
            return r.choice([None, 1, "a", [1], {"k": True}])
        if "$ref" in node:
            return self.make(self.resolve(node["$ref"]), depth)
        for kw in ("oneOf", "anyOf"):
            if kw in node:
                return self.make(r.choice(node[kw]), depth)
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return r.choice(node["enum"])
        t = node.get("type")
        t = r.choice(t) if isinstance(t, list) else t
        if t == "null":
            return None
        if t == "boolean":
            return r.random() < 0.5
        if t in ("integer", "number"):
            lo = node.get("minimum", node.get("exclusiveMinimum", -6))
            x = r.randint(int(lo) - 1, int(lo) + 8)
            return x if t == "integer" or r.random() < 0.5 else x + 0.5
        if t == "string":
            return self.string(node)
        if t == "array":
            lo = int(node.get("minItems", 0))
            n = r.randint(lo, max(lo, int(node.get("maxItems", 3))))
            return [self.make(node.get("items", True), depth + 1) for _ in range(n)]
        if t == "object":
            out = {}
            props = node.get("properties", {})
            for k, sub in props.items():
                if k in node.get("required", []) or r.random() < 0.5:
                    out[k] = self.make(sub, depth + 1)
            addl = node.get("additionalProperties", True)
            for k in node.get("required", []):
                if k not in out:
                    out[k] = self.make(addl, depth + 1)
            if addl is not False and r.random() < 0.3:
                out["extra"] = self.make(addl if addl is not True else True, depth + 1)
            return out
        return None

    def mutate(self, doc):
        r = self.rng
        paths = []

        def walk(v, path):
            paths.append(path)
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(x, path + [k])
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    walk(x, path + [i])

        walk(doc, [])
        path = r.choice(paths)
        replacement = r.choice([None, True, 0, -3, 2.5, 1e6, "", "abc", "9", "é😀", [], [1, "a"], {}, {"a": 1},
                                "2024-05-01T12:30:00Z", "hello\u0000there"])
        if not path:
            return replacement, "replace@(root)"
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict) and r.random() < 0.3:
            del parent[path[-1]]
            return doc, f"delete@{path}"
        parent[path[-1]] = replacement
        return doc, f"replace@{path}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--docs", type=int, default=20)
    ap.add_argument("--seed", default="jobwatch-random-schemas-v1")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fc = checker()
    lines = []
    valid_total = 0
    for i in range(args.count):
        stem = f"random_{i:03d}"
        rng = random.Random(f"{args.seed}:{i}")
        schema = SchemaGen(rng, stem).document()
        Draft202012Validator.check_schema(schema)
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        path = out / f"{stem}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        validator = Draft202012Validator(schema, format_checker=fc)
        docs = DocGen(rng, schema)
        seen = set()
        tries = 0
        while len(seen) < args.docs:
            tries += 1
            doc = docs.make(schema)
            name = "built"
            if tries > args.docs * 20:
                # A schema with few distinct documents: fill up with unknown members.
                doc, name = {**doc, f"unknown{tries}": tries} if isinstance(doc, dict) else [doc, tries], "filler"
            elif rng.random() < 0.5:
                doc, name = docs.mutate(json.loads(json.dumps(doc)))
            data = json.dumps(doc, ensure_ascii=rng.random() < 0.3).encode("utf-8")
            if data in seen:
                continue
            seen.add(data)
            valid = validator.is_valid(doc)
            valid_total += valid
            lines.append(json.dumps({"schema": stem, "doc_hex": data.hex(), "valid": valid, "mutation": name},
                                    separators=(",", ":")))
    corpus = out / "random_corpus.jsonl"
    tmp = corpus.with_name(corpus.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    os.replace(tmp, corpus)
    print(f"random_schemas.py: {args.count} schemas, {len(lines)} documents, {valid_total} valid", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
