"""``kif view``: a model as one self-contained HTML page (graph, types, attributes, weight statistics)."""

from __future__ import annotations

from kif.view.page import build_html

__all__ = ["build_html"]
