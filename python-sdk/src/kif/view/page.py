"""``kif view``'s page: one self-contained HTML file (data, layout library, script and style inlined; nothing fetched).

The layout runs in the browser with the vendored dagre (assets/vendor/README.md says where it comes from); every
statistic is computed in Python by ``kif.view.data`` and embedded as JSON.
"""

from __future__ import annotations

import html
import json
import os
from importlib import resources
from typing import Any

from kif.view.data import SPEC_BASE
from kif.view.stats import MAX_SAMPLE

DAGRE_VERSION = "3.1.3"
DAGRE_SHA256 = "54a503e346f93ca0bb10abe7999587e037262935687aca45eb4e4b0f64bbb578"


def asset(name: str) -> str:
    """The text of a file under kif/view/assets (shipped in the wheel as package data)."""
    return resources.files("kif.view").joinpath("assets", *name.split("/")).read_text(encoding="utf-8")


def _dagre() -> str:
    # The source map is not shipped; without its comment no developer tool goes looking for it.
    lines = asset("vendor/dagre.min.js").splitlines()
    return "\n".join(line for line in lines if not line.startswith("//# sourceMappingURL="))


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> element: every '<' is escaped (JSON.parse reads it back unchanged)."""
    text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(data: dict[str, Any]) -> str:
    """The page for view data built by ``kif.view.data.build``."""
    page = asset("page.html")
    licence = asset("vendor/dagre.LICENSE").replace("*/", "* /")
    parts = {
        "{{TITLE}}": html.escape(str(data["model"]["name"])),
        "{{CSS}}": asset("view.css"),
        "{{DAGRE_VERSION}}": DAGRE_VERSION,
        "{{DAGRE}}": f"/*\n{licence}\n*/\n{_dagre()}",
        "{{JS}}": asset("view.js"),
    }
    for marker, text in parts.items():
        page = page.replace(marker, text)
    return page.replace("{{DATA}}", _json_for_script(data))  # last: no marker is looked for inside the model's data


def build_html(
    path: str | os.PathLike[str],
    *,
    stats: bool = True,
    max_sample: int = MAX_SAMPLE,
    spec_base: str = SPEC_BASE,
) -> str:
    """Open a bundle (checksums verified when statistics read the tensors) and return its page."""
    from kif.bundle.reader import load
    from kif.view.data import build

    model = load(path, verify=stats)
    return render(build(model, stats=stats, max_sample=max_sample, spec_base=spec_base))
