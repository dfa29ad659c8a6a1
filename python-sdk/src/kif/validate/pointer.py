"""JSON pointers (RFC 6901) for finding locations: defined in kif.validate.report, which ``import kif`` loads."""

from __future__ import annotations

from kif.validate.report import join, pointer

__all__ = ["join", "pointer"]
