"""Say what a file looks like when no loader claims it."""

from __future__ import annotations

import json
from pathlib import Path

HEAD_SIZE = 4096

MAGICS: list[tuple[bytes, str]] = [
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive (no members: np.savez() of no arrays writes one)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x80\x02", "a Python pickle (protocol 2)"),
    (b"\x80\x03", "a Python pickle (protocol 3)"),
    (b"\x80\x04", "a Python pickle (protocol 4)"),
    (b"\x80\x05", "a Python pickle (protocol 5)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"\x08\x01\x12", "possibly an ONNX protobuf"),
]


def describe(head: bytes, path: Path | None = None) -> str:
    """A short description of the content, for error messages."""
    if not head:
        return "the file is empty"
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "a TFLite flatbuffer"
    for magic, what in MAGICS:
        if head.startswith(magic):
            return what
    text = _as_text(head)
    if text is None:
        return f"binary data starting with {head[:8].hex(' ')}"
    stripped = text.lstrip()
    if stripped.startswith("version https://git-lfs"):
        return "a Git LFS pointer (the real file was never downloaded: run 'git lfs pull')"
    lowered = stripped[:200].lower()
    if lowered.startswith("<!doctype html") or lowered.startswith("<html"):
        return "an HTML page (a download that saved a web page instead of the file?)"
    if stripped.startswith("{") or stripped.startswith("["):
        return _describe_json(stripped, len(head) < HEAD_SIZE)
    first = stripped.splitlines()[0][:60] if stripped else ""
    return f"a text file starting with {first!r}"


def zip_head_members(head: bytes) -> list[str]:
    """The member names whose local headers lie in ``head``, in file order: what is left to
    tell a zip by when its central directory (at the end) is gone."""
    names: list[str] = []
    at = 0
    while head.startswith(b"PK\x03\x04", at) and at + 30 <= len(head):
        flags = int.from_bytes(head[at + 6 : at + 8], "little")
        size = int.from_bytes(head[at + 18 : at + 22], "little")
        name_len = int.from_bytes(head[at + 26 : at + 28], "little")
        extra_len = int.from_bytes(head[at + 28 : at + 30], "little")
        name = head[at + 30 : at + 30 + name_len]
        if len(name) < name_len:
            break
        names.append(name.decode("utf-8", "replace"))
        if flags & 0x08:  # sizes follow the data: the next header cannot be found cheaply
            break
        at += 30 + name_len + extra_len + size
    return names


def zip_kind(names: list[str]) -> str:
    """Which format a zip's member names belong to, for messages about damaged archives."""
    if any(n.endswith(("/data.pkl", "/constants.pkl", "/archive_format", "/model.json", "/version"))
           or n.split("/")[1:2] == ["data"] for n in names):  # fmt: skip  # <top>/data/<storage key>
        return "a PyTorch zip archive"
    if any(n in ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz") for n in names):
        return "a Keras .keras (zip) archive"
    if names and all(n.endswith(".npy") for n in names):
        return "a NumPy .npz (zip) archive"
    return "a zip archive"


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the end of the head
            return head[: exc.start].decode("utf-8")
        return None


def _describe_json(text: str, complete: bool) -> str:
    if complete:
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return "text that looks like JSON but does not parse"
        if isinstance(value, dict):
            keys = ", ".join(list(value)[:8])
            return f"JSON with keys {keys}" if keys else "an empty JSON object"
        return f"a JSON {type(value).__name__}"
    return "a JSON document (an architecture file? use it with a weights file)"
