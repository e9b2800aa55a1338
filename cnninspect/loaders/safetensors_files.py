"""Placeholder: this format's loader is being written (issue 4). It claims no file yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.model import Model
from ..errors import UnrecognisedFile


def sniff(head: bytes, path: Path) -> bool:
    return False


def open_model(path: Path, options: Any = None) -> Model:
    raise UnrecognisedFile("this format is not supported yet")
