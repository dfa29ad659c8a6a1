"""TextVectorization's text steps with TensorFlow's exact semantics (spec/layers/TextVectorization.md).

- lower: ``tf.strings.lower`` as Keras calls it (no ``encoding``): ASCII ``A``-``Z`` only; every other code point,
  ``À`` and ``Σ`` included, is kept.
- strip_punctuation: ``tf.strings.regex_replace`` of ``[!"#$%&()\\*\\+,-\\./:;<=>?@\\[\\\\\\]^_`{|}~\\']``: exactly the 32
  ASCII punctuation characters (``,-\\.`` is the range ``,`` ``-`` ``.``); Unicode punctuation (``—``, ``¿``) is kept.
- whitespace split: ``tf.strings.split`` without ``sep``: runs of the six ASCII spaces `` \\t\\n\\v\\f\\r``, empty
  tokens dropped (NBSP, U+3000, U+0085 and U+001C-U+001F are not separators, unlike Python's ``str.split``).
- character split: ``tf.strings.unicode_split(..., "UTF-8")``: one token per code point.
- ngrams: ``tf.strings.ngrams(tokens, widths, separator=" ")``: per width in order, every window of that width.
"""

from __future__ import annotations

import re

_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})
PUNCTUATION = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"
_STRIP = str.maketrans("", "", PUNCTUATION)
_SPACES = re.compile("[ \t\n\v\f\r]+")


def standardize(text: str, mode: str | None) -> str:
    if mode in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_LOWER)
    if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = text.translate(_STRIP)
    return text


def split(text: str, mode: str | None) -> list[str]:
    if mode == "whitespace":
        return [token for token in _SPACES.split(text) if token]
    if mode == "character":
        return list(text)
    return [text]


def ngrams(tokens: list[str], widths: list[int] | None) -> list[str]:
    if not widths:
        return tokens
    return [" ".join(tokens[i : i + w]) for w in widths for i in range(len(tokens) - w + 1)]
