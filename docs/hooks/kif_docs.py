"""mkdocs hook: render spec/ inside the site and generate the schema reference.

Nothing is copied into docs/ by hand. At build time this hook
- adds every ``spec/**/*.md`` page (layer pages included, discovered, never listed),
- adds every ``schemas/**/*.schema.json`` as a raw file plus a generated reference page,
- builds the navigation from what it found,
- rewrites relative links in spec pages: links into ``spec/`` or ``schemas/`` are kept
  (``*.schema.json`` links point at the generated page), links to other repository files
  become plain text with the path, because those files are not part of the site,
- fills the ``<!-- kif:layer-catalog -->`` marker of spec/layers/index.md with the catalog table.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SPEC_ORDER = [
    "index.md",
    "bundle.md",
    "graph.md",
    "tensors.md",
    "canonical-form.md",
    "integrity.md",
    "io-metadata.md",
    "self-test.md",
    "extensions.md",
    "versioning.md",
    "errors.md",
]
LAYER_MARKER = "<!-- kif:layer-catalog -->"
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)((?:\s+\"[^\"]*\")?)\)")
_FENCE = re.compile(r"^(```|~~~)", re.MULTILINE)


def _repo(config: Any) -> Path:
    return Path(config.config_file_path).resolve().parent


def _spec_pages(repo: Path) -> list[str]:
    """spec/*.md in reading order (known pages first), then spec/layers/*.md (index first)."""
    spec = repo / "spec"
    top = sorted(p.name for p in spec.glob("*.md"))
    ordered = [n for n in SPEC_ORDER if n in top] + [
        n for n in top if n not in SPEC_ORDER
    ]
    return [f"spec/{n}" for n in ordered]


def _layer_pages(repo: Path) -> list[str]:
    names = sorted(p.name for p in (repo / "spec" / "layers").glob("*.md"))
    return [
        f"spec/layers/{n}"
        for n in (["index.md"] if "index.md" in names else [])
        + [n for n in names if n != "index.md"]
    ]


def _schemas(repo: Path) -> dict[str, dict[str, Any]]:
    root = repo / "schemas"
    return {
        p.relative_to(root).as_posix(): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(root.rglob("*.schema.json"))
    }


def _page_for_schema(rel: str) -> str:
    """schemas/<rel>.schema.json → its generated page, e.g. layers/Dense.schema.json → schemas/layers/Dense.md."""
    return "schemas/" + rel[: -len(".schema.json")] + ".md"


# -- configuration ----------------------------------------------------------------


def on_config(config: Any) -> Any:
    repo = _repo(config)
    schema_pages = [
        _page_for_schema(rel) for rel in _schemas(repo) if not rel.startswith("layers/")
    ]
    layer_schema_pages = [
        _page_for_schema(rel) for rel in _schemas(repo) if rel.startswith("layers/")
    ]
    docs_dir = Path(config["docs_dir"])
    fixed = {"index.md", "guide.md"}
    # Any other page someone adds to docs/ (a generated coverage table, say) is listed, never silently omitted.
    extra = sorted(
        p.relative_to(docs_dir).as_posix()
        for p in docs_dir.rglob("*.md")
        if "hooks" not in p.parts
    )
    config["nav"] = [
        {"Home": "index.md"},
        {"SDK guide": "guide.md"},
        *[page for page in extra if page not in fixed],
        {"Support matrix": "support-matrix.md"},
        {"Specification": [*_spec_pages(repo), {"Layers": _layer_pages(repo)}]},
        {
            "Schema reference": [
                "schemas/index.md",
                *schema_pages,
                {"Layer schemas": layer_schema_pages},
            ]
        },
    ]
    return config


def on_files(files: Files, config: Any) -> Files:
    repo = _repo(config)
    for rel_path in [*_spec_pages(repo), *_layer_pages(repo)]:
        files.append(
            File.generated(config, rel_path, abs_src_path=str(repo / rel_path))
        )
    for example in sorted((repo / "spec" / "examples").glob("*.json")):
        files.append(
            File.generated(
                config, f"spec/examples/{example.name}", abs_src_path=str(example)
            )
        )
    from kif.conformance.matrix import load_scoreboards, render, string_case_ids

    boards = load_scoreboards(repo / "conformance" / "scoreboards")
    text_cases = string_case_ids(repo / "conformance")
    files.append(
        File.generated(config, "support-matrix.md", content=render(boards, text_cases))
    )
    schemas = _schemas(repo)
    files.append(
        File.generated(config, "schemas/index.md", content=_schema_index(schemas))
    )
    for rel, schema in schemas.items():
        files.append(
            File.generated(
                config, f"schemas/{rel}", abs_src_path=str(repo / "schemas" / rel)
            )
        )
        files.append(
            File.generated(
                config, _page_for_schema(rel), content=_schema_page(rel, schema, repo)
            )
        )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    src = page.file.src_uri
    if not src.startswith("spec/"):
        return markdown
    if src == "spec/layers/index.md" and LAYER_MARKER in markdown:
        markdown = markdown.replace(LAYER_MARKER, _catalog_table(_repo(config)))
    return _rewrite_links(markdown, src, _repo(config))


# -- link rewriting -----------------------------------------------------------------


def _rewrite_links(markdown: str, src: str, repo: Path) -> str:
    parts = _FENCE.split(markdown)
    # re.split with one group yields [text, fence, text, fence, ...]; text inside fences is every 4th item from 2.
    out: list[str] = []
    inside = False
    for i, part in enumerate(parts):
        if i % 2 == 1:
            inside = not inside
            out.append(part)
        else:
            out.append(
                part
                if inside
                else _LINK.sub(lambda m: _rewrite_one(m, src, repo), part)
            )
    return "".join(out)


def _rewrite_one(match: re.Match[str], src: str, repo: Path) -> str:
    bang, text, target, title = match.groups()
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return match.group(0)
    path, _, anchor = target.partition("#")
    resolved = (
        posixpath.normpath(posixpath.join(posixpath.dirname(src), path))
        if path
        else src
    )
    if resolved.endswith(".schema.json") and resolved.startswith("schemas/"):
        resolved = _page_for_schema(resolved[len("schemas/") :])
        anchor = ""
    elif (repo / resolved).is_dir() and resolved.split("/")[0] in ("spec", "schemas"):
        resolved = resolved + "/index.md"
    if resolved.split("/")[0] in ("spec", "schemas") and not resolved.startswith(".."):
        new = posixpath.relpath(resolved, posixpath.dirname(src)) + (
            f"#{anchor}" if anchor else ""
        )
        return f"{bang}[{text}]({new}{title})"
    # A repository file outside the site: keep the words, show the path.
    shown = resolved.lstrip("./")
    return text if text.strip("`") == shown else f"{text} (`{shown}`)"


# -- generated pages -------------------------------------------------------------------

BANNER = '!!! note "Generated"\n    This page is generated at docs build time from `schemas/{rel}`. Do not edit it; edit the schema.\n'


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def _ref_link(ref: str, rel: str) -> str:
    """A $ref as a link to the generated page (and anchor) that defines it."""
    target, _, fragment = ref.partition("#")
    name = fragment.rsplit("/", 1)[-1] if fragment else ""
    if target:
        other = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        page = posixpath.relpath(
            _page_for_schema(other), posixpath.dirname(_page_for_schema(rel))
        )
    else:
        page = ""
    anchor = f"#{_slug(name)}" if name else ""
    return f"[`{name or target}`]({page}{anchor})"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")


def _type_text(schema: Any, rel: str) -> str:
    """A one-line summary of a subschema: type, allowed values, bounds."""
    if schema is True or schema == {}:
        return "any"
    if not isinstance(schema, dict):
        return _code(schema)
    parts: list[str] = []
    if "$ref" in schema:
        parts.append(_ref_link(schema["$ref"], rel))
    if "const" in schema:
        parts.append(f"exactly {_code(schema['const'])}")
    if "enum" in schema:
        parts.append("one of " + ", ".join(_code(v) for v in schema["enum"]))
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts.append(" or ".join(_type_text(s, rel) for s in schema[key]))
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if "array" in kinds:
            items = schema.get("prefixItems")
            inner = (
                "[" + ", ".join(_type_text(s, rel) for s in items) + "]"
                if items
                else _type_text(schema.get("items", {}), rel)
            )
            kinds = [k if k != "array" else f"array of {inner}" for k in kinds]
        if (
            "object" in kinds
            and "additionalProperties" in schema
            and isinstance(schema["additionalProperties"], dict)
        ):
            kinds = [
                k
                if k != "object"
                else f"map to {_type_text(schema['additionalProperties'], rel)}"
                for k in kinds
            ]
        parts.append(" or ".join(kinds))
    bounds = []
    for key, label in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            bounds.append(f"{label} {schema[key]}")
    for key, label in (
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
    ):
        if key in schema:
            bounds.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        bounds.append(f"pattern `{schema['pattern']}`")
    if "propertyNames" in schema:
        bounds.append("keys: " + _type_text(schema["propertyNames"], rel))
    text = " ".join(parts) or "any"
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _property_table(schema: dict[str, Any], rel: str, with_default: bool) -> list[str]:
    required = set(schema.get("required", []))
    head = (
        "| Name | Type | Required |"
        + (" Default |" if with_default else "")
        + " Description |"
    )
    rule = "|---|---|---|" + ("---|" if with_default else "") + "---|"
    rows = [head, rule]
    for name, sub in schema.get("properties", {}).items():
        sub = sub if isinstance(sub, dict) else {}
        default = _code(sub["default"]) if "default" in sub else "—"
        cells = [f"`{name}`", _type_text(sub, rel), "yes" if name in required else "no"]
        cells += [default] if with_default else []
        cells.append(sub.get("description", ""))
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _sections(
    title: str,
    schema: dict[str, Any],
    rel: str,
    level: int,
    with_default: bool,
    describe: bool = True,
) -> list[str]:
    """A heading, the schema's description and a table of its properties, then nested inline objects."""
    out = ["#" * level + f" {title}", ""]
    if describe and schema.get("description"):
        out += [schema["description"], ""]
    if "properties" in schema:
        out += [*_property_table(schema, rel, with_default), ""]
        extra = schema.get("additionalProperties")
        out += [
            "Other properties: " + ("not allowed." if extra is False else "allowed."),
            "",
        ]
        for name, sub in schema["properties"].items():
            if isinstance(sub, dict) and "properties" in sub and name != "x-kif":
                out += _sections(f"`{name}`", sub, rel, min(level + 1, 6), with_default)
    else:
        out += [f"Type: {_type_text(schema, rel)}", ""]
    return out


def _schema_page(rel: str, schema: dict[str, Any], repo: Path) -> str:
    raw = posixpath.basename(rel)
    out = [f"# {schema.get('title', rel)}", "", BANNER.format(rel=rel), ""]
    out += [
        schema.get("description", ""),
        "",
        f"`$id`: `{schema.get('$id', '')}` · raw schema: [{raw}]({raw})",
        "",
    ]
    ext = schema.get("x-kif")
    if rel.startswith("layers/") and isinstance(ext, dict):
        layer_type = schema.get("title", "")
        spec_page = repo / "spec" / "layers" / f"{layer_type}.md"
        if spec_page.is_file():
            out += [
                f"Normative page: [spec/layers/{layer_type}.md](../../spec/layers/{layer_type}.md)",
                "",
            ]
        out += _sections(
            "Attributes", schema, rel, 2, with_default=True, describe=False
        )
        out += _layer_extension(ext)
    else:
        out += _sections(
            "Fields" if "properties" in schema else "Schema",
            schema,
            rel,
            2,
            with_default=False,
            describe=False,
        )
        if "x-kif" in schema.get("properties", {}):
            out += _sections(
                "`x-kif`", schema["properties"]["x-kif"], rel, 3, with_default=False
            )
    defs = schema.get("$defs", {})
    if defs:
        out += ["## Definitions", ""]
        for name, sub in defs.items():
            out += _sections(
                f"`{name}`",
                sub if isinstance(sub, dict) else {},
                rel,
                3,
                with_default=False,
            )
    out += [
        "## Raw schema",
        "",
        "```json",
        json.dumps(schema, indent=2, ensure_ascii=False),
        "```",
        "",
    ]
    return "\n".join(out)


def _arity(bounds: dict[str, Any]) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    return (
        f"{low}"
        if low == high
        else (f"at least {low}" if high is None else f"{low} to {high}")
    )


def _layer_extension(ext: dict[str, Any]) -> list[str]:
    out = ["## Definition (`x-kif`)", "", "| Name | Value |", "|---|---|"]
    out.append(f"| since | `{ext.get('since', '')}` |")
    out.append(f"| inputs | {_arity(ext.get('inputs', {}))} |")
    out.append(f"| outputs | {_arity(ext.get('outputs', {}))} |")
    if ext.get("weights_from"):
        out.append(
            f"| weights_from | `{ext['weights_from']}` (the wrapped layer's weight roles) |"
        )
    out.append("")
    weights = ext.get("weights", {})
    out += ["### Weights", ""]
    if weights:
        out += [
            "| Role | Rank | Layout | Present when | Description |",
            "|---|---|---|---|---|",
        ]
        for role, w in weights.items():
            when = w.get("when")
            present = (
                "always"
                if not when
                else " and ".join(
                    f"`{c}`" for c in ([when] if isinstance(when, str) else when)
                )
            )
            cells = [
                f"`{role}`",
                str(w.get("rank", "")),
                f"`{w.get('layout', '')}`",
                present,
                w.get("description", ""),
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    else:
        out.append("None.")
    out.append("")
    tol = ext.get("tolerance", {})
    out += ["### Tolerance", "", "| dtype | rtol | atol |", "|---|---|---|"]
    for dtype in ("float32", "float16"):
        if dtype in tol:
            out.append(
                f"| {dtype} | {tol[dtype].get('rtol')} | {tol[dtype].get('atol')} |"
            )
    out += ["", _cell(tol.get("reason", "")), ""]
    return out


def _schema_index(schemas: dict[str, dict[str, Any]]) -> str:
    out = ["# Schema reference", "", BANNER.format(rel="*.schema.json"), ""]
    out += [
        "The JSON Schemas (draft 2020-12) in the repository's `schemas/` folder. The specification pages are",
        "normative; where a schema and the prose disagree, the prose wins and the schema is a bug.",
        "",
        "| Schema | Title | Description |",
        "|---|---|---|",
    ]
    for rel, schema in schemas.items():
        page = _page_for_schema(rel)[len("schemas/") :]
        out.append(
            f"| [`{rel}`]({page}) | {_cell(schema.get('title', ''))} | {_cell(schema.get('description', ''))} |"
        )
    return "\n".join(out) + "\n"


def _catalog_table(repo: Path) -> str:
    """The layer catalog as found at build time: one row per schemas/layers/*.schema.json."""
    schemas = {rel: s for rel, s in _schemas(repo).items() if rel.startswith("layers/")}
    pages = {p.stem for p in (repo / "spec" / "layers").glob("*.md")} - {"index"}
    rows = [
        "| Type | Since | Inputs | Outputs | Weights | Page | Schema |",
        "|---|---|---|---|---|---|---|",
    ]
    for rel, schema in schemas.items():
        layer_type = schema.get("title", "")
        ext = schema.get("x-kif", {})
        weights = ", ".join(f"`{w}`" for w in ext.get("weights", {})) or "—"
        page = f"[{layer_type}]({layer_type}.md)" if layer_type in pages else "—"
        schema_link = f"[schema](../../{_page_for_schema(rel)})"
        arity = [_arity(ext.get("inputs", {})), _arity(ext.get("outputs", {}))]
        cells = [
            f"`{layer_type}`",
            f"`{ext.get('since', '')}`",
            *arity,
            weights,
            page,
            schema_link,
        ]
        rows.append("| " + " | ".join(cells) + " |")
    others = sorted(pages - {s.get("title", "") for s in schemas.values()})
    text = "\n".join(rows) + "\n"
    if others:
        text += (
            "\nPages that define more than one type or shared material: "
            + ", ".join(f"[{p}]({p}.md)" for p in others)
            + ".\n"
        )
    return (
        "*This table is generated at docs build time from `schemas/layers/`.*\n\n"
        + text
    )
