"""A Keras architecture file on its own: ``model.to_json()`` JSON, ``model.to_yaml()``
YAML, or a ``.keras`` archive's ``config.json``. It is a model without weights: ``shapes``
shows every layer, the weights are in another file (``--config`` joins the two).

Sniffing stays cheap: a look at the first bytes of the text, for the ``class_name`` key
that these files put at the top (after ``module`` in Keras 3's JSON, after ``backend`` in
to_yaml's sorted keys); parsing waits for ``open_model``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..core.model import Model
from .architecture import read_architecture
from .keras_h5 import assemble

JSON_TOP = re.compile(rb'\A\s*\{\s*(?:"module"\s*:\s*"[^"]*"\s*,\s*)?"class_name"\s*:')
YAML_TOP = re.compile(rb"^class_name:[ \t]*\S.*\r?\n(?:.*\r?\n)*?config:", re.MULTILINE)


def sniff(head: bytes, path: Path) -> bool:
    if b"\x00" in head:
        return False
    text = head.removeprefix(b"\xef\xbb\xbf")  # a BOM some editors write
    return bool(JSON_TOP.match(text)) or (not text.lstrip().startswith((b"{", b"[")) and bool(YAML_TOP.search(text)))


def open_model(path: Path, options: Any = None) -> Model:
    config = read_architecture(path)  # to_json and to_yaml record the writer at its top level
    version, backend = _text(config.get("keras_version")), _text(config.get("backend"))
    model = assemble(None, path, "keras-architecture", config, version, backend, None)
    model.weights_stored = False
    model.notes.append(
        "architecture only: the weights are not in this file (they are in the file save_weights or save wrote; "
        f"open that one with --config {path.name})"
    )
    return model


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
