"""Renders the view model with Jinja2 templates."""

from __future__ import annotations

import json
import pathlib
import re

import jinja2

from . import CODEGEN_ABI
from .escape import cpp_comment, cpp_string_literal, cpp_string_view, ts_comment, ts_string_literal
from .model import Decl, SchemaError, SchemaFile

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / "templates"
# The TypeScript runtime, a plain file copied beside the generated modules: in
# the source tree and in an installed package alike it sits at ../ts/codec.ts
# from the codegen folder.
TS_CODEC = pathlib.Path(__file__).resolve().parent.parent.parent / "ts" / "codec.ts"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["cpp_literal"] = cpp_string_literal
    env.filters["cpp_sv"] = cpp_string_view
    env.filters["cpp_comment"] = cpp_comment
    env.filters["ts_comment"] = ts_comment
    env.filters["ts_str"] = ts_string_literal
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


def render_cpp(files: list[SchemaFile], namespace: str) -> dict[str, str]:
    env = environment()
    tmpl = env.get_template("cpp_header.hpp.j2")
    out = {}
    for sf in files:
        guard = "JOBWATCH_GENERATED_" + "_".join(
            part.upper() for part in namespace.split("::") + [sf.stem]) + "_HPP"
        root_cpp = "::" + namespace.strip(":") + "::" + sf.root_name
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*", namespace):
            raise SchemaError(sf.display, "", f"--namespace {namespace!r} is not a C++ namespace name")
        out[f"{sf.stem}.hpp"] = tmpl.render(file=sf, namespace=namespace, guard=guard, abi=CODEGEN_ABI,
                                            root_cpp=root_cpp)
    return out


# File stems that the generated TypeScript takes for itself.
TS_RESERVED_STEMS = {"codec", "index"}
# Globals that generated modules spell by name, so no type may shadow them.
TS_GLOBALS = {"Array"}
TS_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def render_ts(files: list[SchemaFile], namespace: str) -> dict[str, str]:
    env = environment()
    codec = TS_CODEC.read_text(encoding="utf-8")
    codec_names = set(re.findall(r"^export (?:function|const|class|type|interface) (\w+)", codec, re.M))
    check_ts_names(files, codec_names | TS_GLOBALS | {"roots"})
    tmpl = env.get_template("ts_module.ts.j2")
    out = {"codec.ts": codec}
    for sf in files:
        out[f"{sf.stem}.ts"] = tmpl.render(file=sf, namespace=namespace)
    # The root type of each file, by stem; a root may be declared in another file.
    decl_by_name = {d.name: d for sf in files for d in sf.decls}
    roots = sorted(((sf.stem, decl_by_name[sf.root_name]) for sf in files), key=lambda r: r[0])
    imports: dict[str, set[str]] = {}
    for _, d in roots:
        imports.setdefault(d.file.stem, set()).add(d.ts_parse_fn)
    out["index.ts"] = env.get_template("ts_index.ts.j2").render(
        files=sorted(files, key=lambda sf: sf.stem), roots=roots,
        root_imports=[(stem, sorted(fns)) for stem, fns in sorted(imports.items())])
    return out


def check_ts_names(files: list[SchemaFile], reserved: set[str]) -> None:
    """Every exported TypeScript name is a valid identifier, unique across the
    modules (index.ts re-exports them all), and clear of codec.ts and globals."""
    seen: dict[str, Decl] = {}
    for sf in files:
        if sf.stem in TS_RESERVED_STEMS:
            raise SchemaError(sf.display, "", f"the file stem {sf.stem!r} is taken by the generated {sf.stem}.ts")
        for d in sf.decls:
            if not TS_IDENTIFIER.fullmatch(d.ts_name):
                raise SchemaError(sf.display, d.pointer, f"type name {d.ts_name!r} is not a TypeScript identifier")
            for name in d.ts_exports:
                if name in reserved:
                    raise SchemaError(sf.display, d.pointer, f"TypeScript name {name!r} is reserved by codec.ts or index.ts")
                other = seen.setdefault(name, d)
                if other is not d:
                    raise SchemaError(sf.display, d.pointer, f"TypeScript name {name!r} is already used by "
                                      f"{other.file.display}: {other.pointer or '/'}")
