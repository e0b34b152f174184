"""Tests of codegen/openapi.py: the OpenAPI document made from schemas/.

Run from the repository root:

    python3 -m unittest discover -s codegen/tests -p 'test_openapi.py'

The document's validity for OpenAPI tools, and the server's answers against
it, are tested by tests/node/openapi.test.mjs; the route table against it by
OpenApiTest in tests/gateway.
"""

import copy
import json
import re
import shutil
import sys
import tempfile
import unittest
from pathlib import Path

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "codegen"))
import openapi  # noqa: E402


def refs(node, where=""):
    """Every $ref of a JSON value, with where it is."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from refs(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from refs(v, f"{where}/{i}")


def resolve(doc, ref):
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def unliteral(cpp: str) -> str:
    """The text of the adjacent C++ string literals in `cpp` (the generator's escapes only)."""
    out = bytearray()
    for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', cpp.split("document =", 1)[1]):
        i = 0
        while i < len(lit):
            if lit[i] == "\\" and lit[i + 1] in '"\\':
                out.append(ord(lit[i + 1]))
                i += 2
            elif lit[i] == "\\":
                out.append(int(lit[i + 1:i + 4], 8))
                i += 4
            else:
                out.append(ord(lit[i]))
                i += 1
    return out.decode("utf-8")


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = openapi.build(ROOT / "schemas", "1.2.3")

    def test_every_reference_resolves_inside_the_document(self):
        found = list(refs(self.doc))
        self.assertGreater(len(found), 100)
        for where, ref in found:
            self.assertTrue(ref.startswith("#/components/"), f"{where}: {ref}")
            try:
                resolve(self.doc, ref)
            except (KeyError, IndexError, TypeError):
                self.fail(f"{where}: {ref} resolves to nothing")

    def test_every_schema_is_json_schema_2020_12_without_ids(self):
        for name, schema in self.doc["components"]["schemas"].items():
            Draft202012Validator.check_schema(schema)
            self.assertNotIn("$id", json.dumps(schema), name)
        self.assertEqual(self.doc["jsonSchemaDialect"], "https://json-schema.org/draft/2020-12/schema")
        self.assertEqual(self.doc["info"]["version"], "1.2.3")

    def test_security_and_problem_answers_follow_the_scope(self):
        paths = self.doc["paths"]
        jobs = paths["/api/v1/jobs"]["get"]
        self.assertEqual(jobs["security"], [{"bearer": ["read"]}, {"token_query": ["read"]}])
        self.assertEqual(jobs["responses"]["401"], {"$ref": "#/components/responses/problem_401"})
        self.assertIn("403", jobs["responses"])
        self.assertIn("400", jobs["responses"])
        healthz = paths["/healthz"]["get"]
        self.assertEqual(healthz["security"], [{"bearer": []}, {"token_query": []}])
        self.assertNotIn("403", healthz["responses"])
        document = paths["/api/v1/openapi.json"]["get"]
        self.assertEqual(document["security"], [])
        self.assertNotIn("401", document["responses"])
        # The WebSocket takes its credentials in its first message too.
        self.assertEqual(paths["/ws"]["get"]["security"][-1], {})
        # Path parameters are declared.
        params = paths["/api/v1/runs/{id}/summary"]["get"]["parameters"]
        self.assertIn({"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, params)
        problem = self.doc["components"]["responses"]["problem_404"]["content"]["application/problem+json"]
        self.assertEqual(problem["schema"], {"$ref": "#/components/schemas/problem"})
        for path, item in paths.items():
            for method, op in item.items():
                self.assertNotIn("scope", op, f"{method} {path}: operations.json's own keys stay out")
                self.assertIn("operationId", op, f"{method} {path}")

    def test_the_header_holds_the_document_exactly(self):
        text = json.dumps(self.doc, separators=(",", ":"), ensure_ascii=False) + ' "quotes" \\ ? é\n'
        self.assertEqual(unliteral(openapi.header(text)), text)

    def test_mistakes_are_refused_with_their_place(self):
        good = json.loads((ROOT / "schemas" / "api" / "operations.json").read_text())
        cases = [
            (lambda s: s["operations"].append(copy.deepcopy(s["operations"][0])), "/operations/"),
            (lambda s: s["operations"][1].update(scope="root"), "operations/1/scope"),
            (lambda s: s["operations"][1].update(method="GET"), "operations/1/method"),
            (lambda s: s["operations"][1].update(errors=[418]), "operations/1/errors"),
            (lambda s: s["operations"][1]["responses"]["200"]["content"]["application/json"].update(
                schema={"$ref": "nowhere.json"}), "operations/1/responses/200/content/application/json/schema"),
        ]
        for change, where in cases:
            with tempfile.TemporaryDirectory() as tmp:
                schemas = Path(tmp) / "schemas"
                shutil.copytree(ROOT / "schemas", schemas)
                spec = copy.deepcopy(good)
                change(spec)
                (schemas / "api" / "operations.json").write_text(json.dumps(spec))
                with self.assertRaises(openapi.OpenApiError) as e:
                    openapi.build(schemas)
                self.assertIn(where, str(e.exception))


if __name__ == "__main__":
    unittest.main()
