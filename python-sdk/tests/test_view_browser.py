"""``kif view`` pages in a real headless Chromium, driven over the DevTools protocol (tests/chromium_cdp.py).

Chromium is required, not optional: .ci/run installs Debian's package, and without it these tests fail naming the
install command. ``python tests/test_view_browser.py BUNDLE OUT.png`` writes the docs' screenshot the same way.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too (the docs screenshot)

import kif
from kif.view import build_html
from tests.chromium_cdp import Browser

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted((REPO / "conformance" / "cases" / "models").glob("*/model.kif"))
NODES = "document.querySelectorAll('#viewport .node').length"
VIEWBOX = "document.getElementById('graph').getAttribute('viewBox')"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


def _open(browser: Browser, bundle: Path, tmp_path: Path, **options: object) -> tuple[str, int]:
    page = tmp_path / f"{bundle.parent.name}.html"
    page.write_text(build_html(bundle, **options), encoding="utf-8")  # type: ignore[arg-type]
    url = page.as_uri()
    return url, browser.open(url)


def _fetches_nothing(browser: Browser, url: str, mark: int) -> None:
    assert browser.console_errors(mark) == []
    others = [u for u in browser.requests(mark) if u != url and not u.startswith("data:")]
    assert others == [], f"the page made requests: {others}"


def _changed(browser: Browser, expression: str, old: str, timeout: float = 10.0) -> str:
    """The value of ``expression`` once it differs from ``old`` (input events may be handled after their command returns)."""
    deadline = time.monotonic() + timeout
    while (value := str(browser.evaluate(expression))) == old and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def _node_center(browser: Browser, node_id: str) -> tuple[float, float]:
    browser.evaluate(f"kifView.centerOn({json.dumps(node_id)})")
    box = browser.evaluate(
        f"(() => {{ const r = document.querySelector('.node[data-id={json.dumps(node_id)}]').getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    return float(box[0]), float(box[1])


@pytest.mark.parametrize("bundle", MODELS, ids=lambda p: p.parent.name)
def test_every_layer_is_drawn_with_no_error_and_no_request(browser: Browser, bundle: Path, tmp_path: Path) -> None:
    model = kif.load(bundle)
    url, mark = _open(browser, bundle, tmp_path)
    assert browser.evaluate(NODES) == len(model.layers) + len(model.inputs) + len(model.outputs)
    drawn = browser.evaluate("[...document.querySelectorAll('#viewport .node')].map(n => n.textContent)")
    for layer in model.layers:  # each layer's box names its type and its name
        assert sum(layer.type in text and layer.name in text for text in drawn) >= 1, layer.name
    assert browser.evaluate("document.querySelectorAll('#viewport path.edge').length") >= len(model.layers)
    _fetches_nothing(browser, url, mark)


def test_a_click_on_a_layer_shows_its_attributes_and_weights(browser: Browser, tmp_path: Path) -> None:
    bundle = REPO / "conformance" / "cases" / "models" / "mobilenet-style" / "model.kif"
    model = kif.load(bundle)
    index, layer = next((i, la) for i, la in enumerate(model.layers) if la.type == "Conv2D")
    url, mark = _open(browser, bundle, tmp_path)
    assert browser.evaluate("document.getElementById('details').textContent") == ""
    browser.click(*_node_center(browser, f"l:{index}"))
    _changed(browser, "document.getElementById('details').textContent", "")
    details = browser.evaluate("document.getElementById('details').innerText")
    assert details.startswith(f"Conv2D {layer.name}") or details.startswith(f"Conv2D  {layer.name}")
    for key, value in layer.attributes.items():
        assert f"{key}\t{json.dumps(value, separators=(',', ':'))}" in details
    kernel = model.weights[layer.weights["kernel"]]
    assert f"shape\t[{', '.join(map(str, kernel.shape))}]" in details
    assert f"{kernel.size} elements, {kernel.nbytes} bytes" in details
    assert browser.evaluate("document.querySelectorAll('#details .hist rect').length") == 16
    href = browser.evaluate("document.querySelector('#details a').getAttribute('href')")
    assert href.endswith("/spec/layers/Conv2D.md")
    assert browser.evaluate(f"document.querySelector('.node[data-id=\"l:{index}\"]').classList.contains('selected')")
    _fetches_nothing(browser, url, mark)


def _thousand_layers(tmp_path: Path) -> Path:
    """250 blocks of Dense, BatchNormalization, ReLU, Add (a residual) in two stages of 125: 1,000 layers named like
    Keras applications (stage1_block3_bn), so blocks nest in stages."""
    rng = np.random.default_rng(0)
    b = kif.GraphBuilder("deep")
    x = b.input("x", "float32", (None, 8))
    for i in range(250):
        w = {"kernel": rng.normal(size=(8, 8)).astype(np.float32), "bias": np.zeros(8, np.float32)}
        h = b.add("Dense", x, name=f"stage{1 + i // 125}_block{i}_dense", units=8, weights=w)
        bn = {k: np.full(8, v, np.float32) for k, v in (("gamma", 1), ("beta", 0), ("moving_mean", 0), ("moving_variance", 1))}
        h = b.add("BatchNormalization", h, name=f"stage{1 + i // 125}_block{i}_bn", weights=bn)
        h = b.add("ReLU", h, name=f"stage{1 + i // 125}_block{i}_relu")
        x = b.add("Add", [x, h], name=f"stage{1 + i // 125}_block{i}_add")
    b.output(x)
    target = tmp_path / "deep" / "model.kif"
    target.parent.mkdir()
    kif.save(b.build(), target)
    return target


def test_a_thousand_layer_model_opens_collapsed_and_expands(browser: Browser, tmp_path: Path) -> None:
    bundle = _thousand_layers(tmp_path)
    started = time.perf_counter()
    url, mark = _open(browser, bundle, tmp_path)
    opened = time.perf_counter() - started
    assert browser.evaluate(NODES) == 2 + 2  # one box per stage, plus the input and the output
    # Opening a stage shows its blocks, still collapsed.
    browser.evaluate("document.querySelector('.node.group[data-id=\"g:stage2\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    assert _changed(browser, f"String({NODES})", "4") == str(1 + 125 + 2)
    assert browser.evaluate("document.querySelectorAll('#viewport .cluster').length") == 1  # stage2's frame
    # Search, then pick a result: its block opens and the layer is selected.
    browser.evaluate("const s = document.getElementById('search'); s.value = 'block117_bn'; s.dispatchEvent(new Event('input'))")
    assert browser.evaluate("[...document.querySelectorAll('#results li')].map(li => li.textContent)") == [
        "stage1_block117_bn  (BatchNormalization)"
    ]
    first = "document.querySelector('#results li').getBoundingClientRect()"
    x, y = browser.evaluate(f"(() => {{ const r = {first}; return [r.x + 5, r.y + 5]; }})()")
    browser.click(x, y)
    assert _changed(browser, f"String({NODES})", "128") == str(124 + 4 + 125 + 2)  # stage1 and block117 opened
    assert browser.evaluate("document.querySelector('.node.selected').getAttribute('data-id')") == "l:469"
    assert browser.evaluate("document.getElementById('details').innerText").startswith("BatchNormalization")
    # Pan and zoom move the viewBox.
    before = str(browser.evaluate(VIEWBOX))
    browser.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": 300, "y": 300, "deltaX": 0, "deltaY": 400})
    zoomed = _changed(browser, VIEWBOX, before)  # a wheel event reaches the page asynchronously
    assert float(zoomed.split()[2]) > float(before.split()[2])  # wider: zoomed out
    browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": 300, "y": 300, "button": "left", "clickCount": 1})
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 360, "y": 420, "button": "left"})
    browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": 360, "y": 420, "button": "left", "clickCount": 1})
    panned = _changed(browser, VIEWBOX, zoomed)
    assert panned.split()[2:] == zoomed.split()[2:] and panned.split()[:2] != zoomed.split()[:2]
    started = time.perf_counter()
    browser.evaluate("document.getElementById('expand-all').click()")
    expanded = time.perf_counter() - started
    assert browser.evaluate(NODES) == 1000 + 2
    assert browser.evaluate("document.querySelectorAll('#viewport .cluster').length") == 250 + 2
    _fetches_nothing(browser, url, mark)
    print(f"1,000 layers: page build + open {opened:.2f} s, expand all (layout of 1,002 nodes) {expanded:.2f} s")


def test_hostile_text_is_shown_as_text_never_run(browser: Browser, tmp_path: Path) -> None:
    evil = '<img src="x" onerror="console.error(1)"></script><script>console.error(2)</script>'
    b = kif.GraphBuilder("evil")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("ReLU", x, name="relu"))
    bundle = tmp_path / "evil" / "model.kif"
    bundle.parent.mkdir()
    kif.save(b.build(description=evil, metadata={"note": evil}), bundle)
    url, mark = _open(browser, bundle, tmp_path)
    shown = browser.evaluate("document.getElementById('model').textContent")
    assert shown.count(evil) == 2  # description and metadata, verbatim
    assert browser.evaluate("document.querySelectorAll('img, #panel script').length") == 0
    _fetches_nothing(browser, url, mark)


def test_a_missing_chromium_fails_naming_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.chromium_cdp import chromium_path

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AssertionError, match=r"apt-get install -y chromium"):
        chromium_path()


def screenshot(bundle: Path, out: Path, select: str | None = None) -> None:
    """The docs' picture: the page of ``bundle`` at 1400x900, with the layer named ``select`` clicked."""
    import tempfile

    model = kif.load(bundle)
    with tempfile.TemporaryDirectory() as tmp, Browser(1400, 860) as browser:
        page = Path(tmp) / "page.html"
        page.write_text(build_html(bundle), encoding="utf-8")
        browser.open(page.as_uri())
        if select is not None:
            index = next(i for i, la in enumerate(model.layers) if la.name == select)
            browser.click(*_node_center(browser, f"l:{index}"))
        browser.screenshot(out)


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
