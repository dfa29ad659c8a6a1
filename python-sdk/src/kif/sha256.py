"""SHA-256 for what an open hashes: small buffers (safetensors headers, schema files) with the interpreter's own
module, large ones (tensors, whole files) with ``hashlib``.

``hashlib``'s first import loads OpenSSL (about 5 ms in a fresh process, more than the rest of a lazy open); the
builtin ``_sha256`` (Python 3.11) or ``_sha2`` (3.12+) module loads in about 0.2 ms. Both implement SHA-256
(FIPS 180-4), so the digests are the same (tests/test_sha256.py). OpenSSL is faster on large buffers (SHA-NI) and
releases the GIL, so tensors, which threads hash in parallel, go through ``hashlib``. An interpreter built without
the builtin module hashes everything with ``hashlib``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_NAMES = ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256", "_sha2")
_builtin: Callable[[Any], Any] | None = None
_looked = False


def _constructor() -> Callable[[Any], Any]:
    global _builtin, _looked
    if not _looked:
        for name in _NAMES:
            try:
                _builtin = __import__(name).sha256
                break
            except (ImportError, AttributeError):
                continue
        _looked = True
    return _builtin if _builtin is not None else _hashlib_sha256()


def _hashlib_sha256() -> Callable[[Any], Any]:
    import hashlib

    return hashlib.sha256


def small(data: Any) -> str:
    """Hex SHA-256 of a small buffer (a header, a schema file): no OpenSSL import."""
    return str(_constructor()(data).hexdigest())


def large(data: Any) -> str:
    """Hex SHA-256 of a tensor's bytes: OpenSSL's (SHA-NI), releasing the GIL so threads hash in parallel."""
    return str(_hashlib_sha256()(data).hexdigest())
