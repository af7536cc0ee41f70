"""JSON Schemas of the files editors write, generated from the models that validate them.

An editor with a TOML extension (Even Better TOML/taplo in VS Code, IntelliJ's TOML plugin) reads
the `#:schema ../../schemas/statistic.schema.json` line at the top of a file and then completes
keys, explains them and underlines mistakes while typing, before any build. The schemas are
generated, never written by hand: `build.py schemas` writes them into `schemas/`, and a test
checks that the shipped files are what the models say today.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from . import content, data, tables

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# file name in schemas/ → the model, and which files it describes
SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "statistic": (content.Metadata, "content/<statistic>/statistic.toml"),
    "releases": (content.ReleaseFile, "content/<statistic>/releases.toml"),
    "tables": (tables.TablesFile, "stats/<statistic>/tables.toml"),
    "datasets": (data.CatalogFile, "stats/datasets.toml"),
    "site": (content.SiteConfig, "site.toml"),
}


def file_name(name: str) -> str:
    return f"{name}.schema.json"


def schema(name: str) -> str:
    """One schema as the text shipped in schemas/: stable key order, one trailing newline."""
    model, describes = SCHEMAS[name]
    body = model.model_json_schema()
    body = {"$schema": DIALECT, "title": describes,
            "description": f"statpress: {describes}, validated by {model.__module__}.{model.__name__}", **body}
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    return {file_name(name): schema(name) for name in SCHEMAS}


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def directive(name: str, toml_path: str) -> str:
    """The `#:schema` line for a TOML file at `toml_path` (relative to the project root)."""
    depth = len(Path(toml_path).parts) - 1
    return f"#:schema {'../' * depth}schemas/{file_name(name)}\n"
