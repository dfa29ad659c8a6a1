"""The docs site renders offline: the built pages load no font, script, stylesheet or image from the network,
and identifiers in tables are not broken mid-word."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_REMOTE = re.compile(r"""(@import\s+(url\()?|url\()\s*["']?(https?:)?//""", re.IGNORECASE)


class _Resources(HTMLParser):
    """Every URL a browser fetches while rendering a page (not the links a reader may follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "link" and a.get("rel", "").lower() not in ("canonical", "alternate", "next", "prev"):
            self.loaded.append(a.get("href", ""))
        elif tag in ("script", "img", "iframe", "source", "audio", "video", "embed"):
            self.loaded.append(a.get("src", ""))
        if "style" in a and CSS_REMOTE.search(a["style"]):
            self.loaded.append(a["style"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_config_turns_off_remote_fonts_and_registers_the_table_css() -> None:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"]["font"] is False  # Material's default fetches Roboto from Google Fonts
    assert "stylesheets/extra.css" in config.get("extra_css", [])
    assert not [u for u in config.get("extra_css", []) + config.get("extra_javascript", []) if EXTERNAL.match(str(u))]


def test_built_pages_load_nothing_from_the_network(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20  # the spec pages are there, not just the home page
    remote: dict[str, list[str]] = {}
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        found = [u for u in parser.loaded if EXTERNAL.match(u) or CSS_REMOTE.search(u)]
        if found:
            remote[page.relative_to(site).as_posix()] = found
    assert not remote, f"pages that fetch from the network: {dict(list(remote.items())[:3])}"
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert "fonts.googleapis.com" not in text and "fonts.gstatic.com" not in text


def test_built_stylesheets_and_scripts_import_nothing_remote(site: Path) -> None:
    assets = [p for p in site.rglob("*") if p.suffix in (".css", ".js")]
    assert assets
    remote = [p.relative_to(site).as_posix() for p in assets if CSS_REMOTE.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not remote


def test_table_identifiers_do_not_break_mid_word(site: Path) -> None:
    css = (site / "stylesheets" / "extra.css").read_text(encoding="utf-8")
    rule = re.search(r"\.md-typeset td code[^{]*\{([^}]*)\}", css)
    assert rule is not None
    body = rule.group(1)
    assert "white-space: nowrap" in body and "word-break: keep-all" in body and "overflow-wrap: normal" in body
    page = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="stylesheets/extra.css"' in page or 'stylesheets/extra.css"' in page
