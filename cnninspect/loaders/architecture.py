"""Architecture files that accompany weights-only files: ``model.to_json()`` JSON,
``model.to_yaml()`` YAML, and the ``config.json`` of a ``.keras`` archive (also read from
the archive itself). YAML is parsed safely: ``!!python/tuple`` becomes a list and every
other Python tag is refused, since constructing it could run code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import BrokenFile, FileNotReadable
from .keras_config import parse_config
from .zipped import is_zip

MAX_CONFIG_BYTES = 256 * 1024 * 1024
SUFFIXES = (".json", ".yaml", ".yml")


def load_architecture(path: Path) -> Any:
    """The architecture ``--config FILE`` names."""
    if not path.is_file():
        raise FileNotReadable(f"--config {path}: no such file")
    try:
        return read_architecture(path)
    except BrokenFile as exc:
        raise BrokenFile(f"--config {path}: {exc.message}") from None


def read_architecture(path: Path) -> Any:
    """A model architecture from JSON, YAML or a ``.keras`` archive's ``config.json``."""
    with path.open("rb") as fh:
        head = fh.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        raise BrokenFile("an HDF5 file (weights or a whole model), not an architecture file")
    if is_zip(head):
        from .keras_archive import read_config  # that module imports this one

        value = read_config(path)
    else:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise BrokenFile(f"{path.stat().st_size:,} bytes is too large for an architecture file")
        text = path.read_bytes().decode("utf-8", errors="replace")
        stripped = text.lstrip()
        try:
            value = parse_config(text) if stripped.startswith(("{", "[")) else _yaml(text)
        except json.JSONDecodeError as exc:
            raise BrokenFile(f"not valid JSON ({exc.msg} at char {exc.pos})") from None
        except RecursionError:
            raise BrokenFile("nested too deeply to be a model config") from None
    if isinstance(value, dict) and "class_name" not in value and isinstance(value.get("config"), dict):
        value = value["config"]  # a .keras config.json wrapped once more
    if not isinstance(value, dict) or "class_name" not in value:
        keys = ", ".join(list(value)[:8]) if isinstance(value, dict) else type(value).__name__
        raise BrokenFile(f"not a Keras model architecture (it has {keys})")
    return value


def _yaml(text: str) -> Any:
    import yaml

    class SafeTupleLoader(yaml.SafeLoader):
        pass

    SafeTupleLoader.add_constructor(
        "tag:yaml.org,2002:python/tuple", lambda loader, node: loader.construct_sequence(node)
    )
    try:
        return yaml.load(text, Loader=SafeTupleLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise BrokenFile(f"refused a YAML architecture with a Python tag ({tag.strip()}): constructing it could run code") from None
    except yaml.YAMLError as exc:
        raise BrokenFile(f"not valid YAML or JSON ({str(exc).splitlines()[0]})") from None


def sibling_architecture(path: Path) -> Path | None:
    """``model.json`` beside ``model.h5`` (or ``model.weights_only.h5``, ...)."""
    stem = path.name
    while "." in stem:
        stem = stem.rsplit(".", 1)[0]
        for suffix in SUFFIXES:
            candidate = path.with_name(stem + suffix)
            if candidate.is_file() and candidate != path:
                return candidate
    return None
