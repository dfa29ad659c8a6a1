"""``kif conformance check``: the suite lints itself.

Every case.json is valid against conformance/case.schema.json; ids are unique and
match their folder; descriptions are unique, short and free of "should"; every
positive bundle (an archive, STORED or ZIP64, or a bundle directory) passes ``kif.validate`` and holds exactly the layer types its
case.json lists; input and expected files (with their string-tensor .json files) hold exactly the declared names; spec
sections exist; every catalog layer type has a case; VERSION holds a version. Every negative
case names a known code with its severity, and the reference validator reports it at the
expected pointer (a warning case: and no error); every error and warning code of the closed
list has a negative case or an exemption in spec/errors.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from kif import catalog, codes
from kif.bundle.container import open_container
from kif.conformance import check_strings
from kif.validate import tensor_digests


def check_suite(suite: Path, *, validate_bundles: bool = True) -> list[str]:
    """Every problem found, as one line each; empty when the suite is sound."""
    import kif

    problems: list[str] = []
    repo = suite.parent
    version = (suite / "VERSION").read_text().strip() if (suite / "VERSION").is_file() else ""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        problems.append(f"VERSION: expected a version like 0.1.0. Received: {version!r}")
    schema = json.loads((suite / "case.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    # One validator per kind, so an error names the field rather than "not valid under any oneOf".
    validators = {kind: Draft202012Validator({**schema, "oneOf": [{"$ref": f"#/$defs/{kind}"}]}) for kind in ("model", "invalid")}
    files = sorted((suite / "cases").glob("*/*/case.json")) + sorted((suite / "invalid").glob("*/case.json"))
    seen_ids: dict[str, Path] = {}
    seen_descriptions: dict[str, Path] = {}
    covered: set[str] = set()
    asserted: set[str | None] = set()
    for path in files:
        rel = path.parent.relative_to(suite).as_posix()
        spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for error in validators["invalid" if "expect" in spec else "model"].iter_errors(spec):
            leaf = min(error.context, key=lambda e: len(e.message)) if error.context else error
            problems.append(f"{rel}: case.json: {leaf.message[:200]} (at /{'/'.join(map(str, leaf.absolute_path))})")
        case_id, description = spec.get("id"), spec.get("description", "")
        if case_id != path.parent.name:
            problems.append(f"{rel}: id {case_id!r} differs from the folder name")
        if case_id in seen_ids:
            problems.append(f"{rel}: id {case_id!r} also used by {seen_ids[case_id]}")
        seen_ids.setdefault(case_id, path.parent)
        if description in seen_descriptions:
            problems.append(f"{rel}: description {description!r} also used by {seen_descriptions[description]}")
        seen_descriptions.setdefault(description, path.parent)
        if "expect" in spec:
            problems += _check_invalid_case(path.parent, spec, rel, validate_bundles, kif)
            asserted.add(spec.get("expect", {}).get("code"))
            continue
        if spec.get("group") != path.parent.parent.name:
            problems.append(f"{rel}: group {spec.get('group')!r} differs from the folder {path.parent.parent.name!r}")
        covered.update(spec.get("layer_types", []))
        problems += _check_model_case(path.parent, spec, rel, repo, validate_bundles, kif)
    missing = sorted(set(catalog.catalog()) - covered)
    if missing:
        problems.append(f"catalog layer types without a case: {', '.join(missing)}")
    needed = {code for code, (severity, _) in codes.CODES.items() if severity in (codes.ERROR, codes.WARNING)}
    unasserted = sorted(needed - asserted - _exempt_codes(repo / "spec" / "errors.md"))
    if unasserted:
        problems.append(f"finding codes without a negative case or an exemption in spec/errors.md: {', '.join(unasserted)}")
    return problems


def _exempt_codes(errors_md: Path) -> set[str]:
    """Codes spec/errors.md ("Negative cases") says an SDK test asserts instead; all codes when the spec is absent
    (an installed copy of the suite carries no spec: only a source checkout can be checked for coverage)."""
    if not errors_md.is_file():
        return set(codes.CODES)
    body = errors_md.read_text(encoding="utf-8").split("\n## Negative cases\n", 1)[-1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", body, flags=re.MULTILINE))


def _check_invalid_case(folder: Path, spec: dict[str, Any], rel: str, validate_bundles: bool, kif: Any) -> list[str]:
    expect = spec.get("expect", {})
    code, pointer, severity = expect.get("code"), expect.get("pointer"), expect.get("severity", codes.ERROR)
    if code not in codes.CODES:
        return [f"{rel}: expect.code {code!r} is not a finding code of spec/errors.md"]
    actual = codes.CODES[code][0]
    if actual != severity:
        return [f"{rel}: {code} is a{'n' if actual == codes.ERROR else ''} {actual}; expect.severity is {severity!r}"]
    target = folder / "bundle" if (folder / "bundle").is_dir() else folder / "bundle.kif"
    present = target.is_dir() or target.is_file() or target.is_symlink()
    if spec.get("bundle_absent"):
        return [f"{rel}: bundle_absent, yet the case holds {target.name}"] if present else []
    if not present:
        return [f"{rel}: missing bundle/ or bundle.kif"]
    if "pad_document_to" in spec and not target.is_dir():
        return [f"{rel}: pad_document_to needs a bundle/ directory"]
    if not validate_bundles:
        return []
    problems: list[str] = []
    level = spec.get("validation_level", "full")
    if "pad_document_to" in spec or level != "full":  # the bundle as committed is valid: only the runner's step breaks it
        errors = [str(f) for f in kif.validate(target).errors]
        if errors:
            problems.append(f"{rel}: the committed bundle must be valid before padding or at level full; kif.validate reports {errors[:2]}")
    from kif.conformance import runner  # the runner prepares the path exactly as a run does

    try:
        suite = folder.parent.parent  # the linted suite's own runner, else the installed one
        own = suite if (suite / "runner" / "kif_conformance.py").is_file() else None
        with runner(own).invalid_target(_RunnerCase(folder, spec)) as prepared:
            findings = kif.validate(prepared, level=level).findings
    except ValueError as exc:  # the runner cannot prepare it: the case is broken
        return [*problems, f"{rel}: {str(exc).removeprefix(folder.name + ': ')}"]
    got = [(f.code, f.pointer) for f in findings if f.severity == severity]
    if (code, pointer) not in got:
        problems.append(f"{rel}: kif.validate does not report {code} at {pointer!r}; it reports {got[:4]}")
    errors = [str(f) for f in findings if f.severity == codes.ERROR]
    if severity == codes.WARNING and errors:
        problems.append(f"{rel}: a warning case must hold an otherwise valid bundle; kif.validate reports errors {errors[:2]}")
    return problems


class _RunnerCase:
    """The two fields of the runner's Case that ``invalid_target`` reads."""

    def __init__(self, folder: Path, spec: dict[str, Any]) -> None:
        self.folder, self.spec, self.id = folder, spec, folder.name


def _check_model_case(folder: Path, spec: dict[str, Any], rel: str, repo: Path, validate_bundles: bool, kif: Any) -> list[str]:
    problems = []
    bundle = folder / "model.kif"
    if not (bundle.is_file() or (bundle / "model.json").is_file()):  # an archive (STORED or ZIP64) or a bundle directory
        return [f"{rel}: missing model.kif (an archive, or a directory holding model.json)"]
    for name in ("inputs.safetensors", "expected.safetensors"):
        if not (folder / name).is_file():
            return [f"{rel}: missing {name}"]
    names_problems, text_names = check_strings.tensor_names(folder, spec, rel)  # and inputs.json / expected.json
    problems += names_problems
    for section in spec.get("spec_sections", []):
        if not (repo / section.split("#")[0]).is_file():
            problems.append(f"{rel}: spec section {section} does not exist")
    if validate_bundles:
        report = kif.validate(bundle)
        if not report.ok:
            problems.append(f"{rel}: model.kif is invalid: {[str(f) for f in report.errors][:3]}")
            return problems
    model = kif.load(bundle)
    types = sorted({layer.type for layer in model.inlined().layers})  # a composite call counts as its body's types
    if types != sorted(spec.get("layer_types", [])):
        problems.append(f"{rel}: layer_types {spec.get('layer_types')} but the bundle has {types}")
    if [s.name for s in model.inputs] != spec.get("inputs") or [s.name for s in model.outputs] != spec.get("outputs"):
        problems.append(f"{rel}: inputs/outputs differ from the bundle's graph order")
    problems += check_strings.dtypes_agree(model, text_names, rel)
    needed = catalog.required_version(model.inlined().layers)  # writers stamp the lowest version a document needs
    if model.composites:
        needed = max(needed, "0.2.0", key=catalog.version_key)  # composites are a 0.2.0 feature
    if tensor_digests.uses_per_tensor_digests(json.loads(open_container(bundle).read("model.json"))):
        needed = max(needed, tensor_digests.SINCE, key=catalog.version_key)
    if not model.kif_version == spec.get("spec_version") == needed:
        problems.append(f"{rel}: kif_version {model.kif_version}, case spec_version {spec.get('spec_version')}; expected both {needed}")
    return problems


__all__ = ["check_suite"]
