"""Renders the view model with Jinja2 templates."""

from __future__ import annotations

import json
import pathlib

import jinja2

from . import CODEGEN_ABI
from .model import SchemaFile, cpp_string_literal

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
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


def render_cpp(files: list[SchemaFile], namespace: str) -> dict[str, str]:
    env = environment()
    tmpl = env.get_template("cpp_header.hpp.j2")
    out = {}
    for sf in files:
        guard = "JOBWATCH_GENERATED_" + "_".join(
            part.upper() for part in namespace.split("::") + [sf.stem]) + "_HPP"
        out[f"{sf.stem}.hpp"] = tmpl.render(file=sf, namespace=namespace, guard=guard, abi=CODEGEN_ABI)
    return out


def render_ts(files: list[SchemaFile], namespace: str) -> dict[str, str]:
    env = environment()
    tmpl = env.get_template("ts_module.ts.j2")
    out = {}
    for sf in files:
        out[f"{sf.stem}.ts"] = tmpl.render(file=sf, namespace=namespace)
    out["index.ts"] = env.get_template("ts_index.ts.j2").render(files=files)
    return out
