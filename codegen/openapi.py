#!/usr/bin/env python3
"""Writes jobwatch's OpenAPI 3.1 document from schemas/api/operations.json and
the message schemas (schemas/*.schema.json), and a C++ header that embeds it.

Usage: openapi.py <schemas folder> <openapi.json> <openapi_document.hpp> <version>

- components.schemas holds every message schema under its stem (its $id and
  $schema dropped: the document's jsonSchemaDialect is 2020-12), and the API
  shapes of operations.json; references between files and into $defs are
  rewritten to #/components/schemas/<stem>/... so that any OpenAPI tool
  resolves them without fetching anything.
- Each operation gets its security from its scope (public: none; none: any
  credentials; read, publish, admin: that role), 401 and 403 problem answers
  where credentials or a scope can be refused, and the problem answers its
  "errors" list names.
The header defines jobwatch::openapi::document (the JSON text). Both files
are written only when their text changes (no needless rebuilds).
"""

import json
import pathlib
import re
import sys

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCOPES = ("public", "none", "read", "publish", "admin")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Keys of operations.json's entries that are not OpenAPI's.
OWN_KEYS = {"method", "path", "scope", "errors", "served_by", "credentials_optional"}
REASONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
    413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    426: "Upgrade Required", 429: "Too Many Requests", 503: "Service Unavailable",
}


class OpenApiError(Exception):
    """A mistake in operations.json or a schema, named by file and JSON Pointer."""


def _ref(target: str, here: str, where: str) -> str:
    """The document's reference for `target`, a $ref written in file `here`."""
    if target.startswith("#/schemas/"):
        return "#/components/schemas/" + target[len("#/schemas/"):]
    if target.startswith("#"):
        if here == "operations.json":
            raise OpenApiError(f"operations.json{where}: {target} names nothing (use #/schemas/<name>)")
        return "#/components/schemas/" + here + target[1:]
    m = re.fullmatch(r"([A-Za-z0-9_]+)\.schema\.json(#.*)?", target)
    if not m:
        raise OpenApiError(f"{here}{where}: $ref {target!r} is neither a schemas/ file nor #/schemas/<name>")
    return "#/components/schemas/" + m.group(1) + (m.group(2) or "#")[1:]


def _rewrite(node, here: str, where: str = ""):
    """`node` with every $ref rewritten, and $id / $schema dropped."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in ("$id", "$schema"):
                continue
            if k == "$ref" and isinstance(v, str):
                out[k] = _ref(v, here, where)
            else:
                out[k] = _rewrite(v, here, f"{where}/{k}")
        return out
    if isinstance(node, list):
        return [_rewrite(v, here, f"{where}/{i}") for i, v in enumerate(node)]
    return node


def _security(scope: str, optional: bool):
    if scope == "public":
        return []
    roles = [] if scope == "none" else [scope]
    out = [{"bearer": roles}, {"token_query": roles}]
    if optional:
        out.append({})
    return out


def build(schema_dir: pathlib.Path, version: str = "0") -> dict:
    """The OpenAPI document, as a JSON value."""
    ops_file = schema_dir / "api" / "operations.json"
    spec = json.loads(ops_file.read_text())
    components = {}
    for f in sorted(schema_dir.glob("*.schema.json")):
        stem = f.name[: -len(".schema.json")]
        components[stem] = _rewrite(json.loads(f.read_text()), stem)
    for name, schema in spec.get("schemas", {}).items():
        if name in components:
            raise OpenApiError(f"operations.json/schemas/{name}: a schemas/ file has that name")
        components[name] = _rewrite(schema, "operations.json", f"/schemas/{name}")

    paths: dict = {}
    seen_ids = set()
    for i, op in enumerate(spec["operations"]):
        where = f"operations.json/operations/{i}"
        method, path, scope = op.get("method"), op.get("path"), op.get("scope")
        if method not in METHODS:
            raise OpenApiError(f"{where}/method: {method!r} is not an HTTP method in lower case")
        if not isinstance(path, str) or not path.startswith("/"):
            raise OpenApiError(f"{where}/path: {path!r} does not start with /")
        if scope not in SCOPES:
            raise OpenApiError(f"{where}/scope: {scope!r} is not one of {', '.join(SCOPES)}")
        if method in paths.get(path, {}):
            raise OpenApiError(f"{where}: {method.upper()} {path} is listed twice")
        if op.get("operationId") in seen_ids:
            raise OpenApiError(f"{where}/operationId: {op.get('operationId')!r} is used twice")
        seen_ids.add(op.get("operationId"))
        out = {k: _rewrite(v, "operations.json", f"/operations/{i}/{k}") for k, v in op.items() if k not in OWN_KEYS}
        # Path parameters named in the path and not listed: plain strings.
        params = out.setdefault("parameters", [])
        listed = {(p["name"], p["in"]) for p in params}
        for name in re.findall(r"\{([^}/]+)\}", path):
            if (name, "path") not in listed:
                params.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
        if not params:
            del out["parameters"]
        out["security"] = _security(scope, bool(op.get("credentials_optional")))
        responses = out.setdefault("responses", {})
        if not responses:
            raise OpenApiError(f"{where}/responses: an operation answers something")
        errors = set(op.get("errors", []))
        if scope != "public":
            errors.add(401)
        if scope not in ("public", "none"):
            errors.add(403)
        for code in sorted(errors):
            if code not in REASONS:
                raise OpenApiError(f"{where}/errors: {code} has no problem response (add it to REASONS)")
            if str(code) in responses:
                raise OpenApiError(f"{where}: {code} is both a response and an error")
            responses[str(code)] = {"$ref": f"#/components/responses/problem_{code}"}
        out["responses"] = dict(sorted(responses.items()))
        paths.setdefault(path, {})[method] = out

    used = sorted({int(r["$ref"].rsplit("_", 1)[1]) for p in paths.values() for o in p.values()
                   for r in o["responses"].values() if "$ref" in r})
    problem_responses = {
        f"problem_{code}": {
            "description": f"{REASONS[code]}: an RFC 9457 problem document.",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/problem"}}},
        }
        for code in used
    }
    if 401 in used:
        problem_responses["problem_401"]["headers"] = {
            "WWW-Authenticate": {"description": "Bearer realm=\"jobwatch\"", "schema": {"type": "string"}}}
    if 429 in used:
        problem_responses["problem_429"]["headers"] = {
            "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {**spec["info"], "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "responses": problem_responses,
            "securitySchemes": {
                "bearer": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "static token or JWT",
                    "description": "Authorization: Bearer <token>; auth.mode static_tokens or jwt (docs/security.md). "
                                   "The roles of a requirement are the scopes the token must hold.",
                },
                "token_query": {
                    "type": "apiKey", "in": "query", "name": "token",
                    "description": "The same token as ?token=, for clients that cannot set headers "
                                   "(browsers' WebSocket and EventSource).",
                },
            },
        },
    }


def _literal(text: str) -> str:
    # Adjacent C++ string literals of at most 80 source characters; bytes outside
    # printable ASCII as three-digit octal escapes (never run into a following digit).
    data = text.encode("utf-8")
    parts, line = [], ""
    for b in data:
        c = chr(b)
        if c in '"\\':
            piece = "\\" + c
        elif 0x20 <= b < 0x7F and c != "?":
            piece = c
        else:
            piece = "\\%03o" % b
        line += piece
        if len(line) >= 76:
            parts.append('"' + line + '"')
            line = ""
    if line or not parts:
        parts.append('"' + line + '"')
    return "\n    ".join(parts)


def header(text: str) -> str:
    return "\n".join([
        "// Generated by codegen/openapi.py from schemas/api/operations.json and schemas/*.schema.json.",
        "// Do not edit; change those files or the generator.",
        "#ifndef JOBWATCH_OPENAPI_DOCUMENT_HPP",
        "#define JOBWATCH_OPENAPI_DOCUMENT_HPP",
        "#include <string_view>",
        "namespace jobwatch::openapi {",
        "/// The whole OpenAPI 3.1 document, every operation jobwatch can serve (JSON).",
        "inline constexpr std::string_view document =",
        "    " + _literal(text) + ";",
        "}  // namespace jobwatch::openapi",
        "#endif",
        "",
    ])


def _write(path: pathlib.Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv) -> int:
    if len(argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        doc = build(pathlib.Path(argv[1]), argv[4])
    except (OpenApiError, KeyError, json.JSONDecodeError) as e:
        print(f"openapi.py: {e}", file=sys.stderr)
        return 1
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    _write(pathlib.Path(argv[2]), text)
    _write(pathlib.Path(argv[3]), header(json.dumps(doc, separators=(",", ":"), ensure_ascii=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
