"""Renders the view model with Jinja2 templates."""

from __future__ import annotations

import json
import pathlib
import re

import jinja2

from . import CODEGEN_ABI
from .model import Decl, SchemaError, SchemaFile, cpp_string_literal

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / "templates"


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
    env.filters["doc_line"] = doc_line
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["ts_comment"] = ts_comment
    return env


def doc_line(text: str) -> str:
    """A description as one comment line: whitespace runs become one space, and
    a trailing backslash is kept from splicing the next source line into the comment."""
    line = " ".join(str(text).split())
    return line + "." if line.endswith("\\") else line


def ts_comment(text: str) -> str:
    """Text for one line of a /** ... */ comment."""
    return " ".join(text.split()).replace("*/", "*\\/")


def render_cpp(files: list[SchemaFile], namespace: str) -> dict[str, str]:
    env = environment()
    tmpl = env.get_template("cpp_header.hpp.j2")
    out = {}
    for sf in files:
        guard = "JOBWATCH_GENERATED_" + "_".join(
            part.upper() for part in namespace.split("::") + [sf.stem]) + "_HPP"
        root_cpp = "::" + namespace.strip(":") + "::" + sf.root_name
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
    codec = env.get_template("ts_codec.ts.j2").render()
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
