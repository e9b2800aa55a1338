"""The inspector's panes: the layer tree, the layer's own facts, and the help panel.
They only lay out what the reports hold."""

from __future__ import annotations

from typing import Any, Iterator

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from ..render.columns import format_bytes
from ..render.tables import format_shape
from .keys import KEYS


def layer_label(layer: dict[str, Any], full: bool = True) -> Text:
    """``name  Type  (shape)  params``, as a tree node; not ``full``: ``name  (shape)``
    (a narrow terminal: the facts pane gives the type and params)."""
    shapes = ", ".join(format_shape(s) for s in layer["output_shapes"]) or "?"
    name = (layer["name"], "italic" if layer["synthetic"] else "bold")
    if not full:
        return Text.assemble(name, "  ", (shapes, "green"))
    return Text.assemble(name, "  ", (layer["type"], "cyan"), "  ", (shapes, "green"), "  ", (f"{layer['params']:,}", "dim"))


def totals_line(report: dict[str, Any]) -> Text:
    src, totals = report["source"], report["totals"]
    writer = " ".join(x for x in (src.get("library"), src.get("library_version")) if x) or "unknown library"
    return Text.assemble(
        (report.get("model") or "model", "bold"),
        f"  {src['format']} written by {writer}  ·  {len(report['layers'])} layers  ·  "
        f"params {totals['params']:,} ({format_bytes(totals['bytes'])}), trainable {totals['trainable_params']:,}",
    )


class Pane(Static):
    """A Static that remembers what it shows (``shown``), whatever Textual's version."""

    def __init__(self, renderable: RenderableType = "", **kwargs: Any) -> None:
        super().__init__(renderable, **kwargs)
        self.shown = renderable

    def show(self, renderable: RenderableType) -> None:
        self.shown = renderable
        self.update(renderable)


class LayerTree(Tree):
    """The layers in file order; a container's layers are its children (they fold)."""

    def fit(self, report: dict[str, Any], nodes: dict[int, TreeNode], screen_width: int) -> None:
        """Labels that are never cut: the full ones when they fit in half the screen, else
        ``name  (shape)``; the tree takes the width its labels need (at most 60%)."""
        layers = report["layers"]

        def need(full: bool) -> int:  # the guides (4 a level, the root's level too), the label, a scrollbar
            return max((4 * (x["depth"] + 1) + layer_label(x, full).cell_len for x in layers), default=0) + 3

        full = need(True) <= screen_width // 2
        for layer in layers:
            nodes[layer["index"]].set_label(layer_label(layer, full))
        self.styles.width = max(30, min(need(full), screen_width * 6 // 10))

    def fill(self, report: dict[str, Any]) -> dict[int, TreeNode]:
        """Adds every layer of the shapes report; returns the node of each row index."""
        nodes: dict[int, TreeNode] = {}
        parents: list[TreeNode] = [self.root]
        layers = report["layers"]
        for k, layer in enumerate(layers):
            del parents[layer["depth"] + 1 :]
            container = k + 1 < len(layers) and layers[k + 1]["depth"] > layer["depth"]
            parent = parents[-1]
            node = parent.add(layer_label(layer), data=layer["index"], expand=True, allow_expand=container)
            if container:
                parents.append(node)
            nodes[layer["index"]] = node
        self.root.expand()
        return nodes


def layer_facts(layer: dict[str, Any]) -> Iterator[RenderableType]:
    """The layer's own facts: type, shapes, inbound, weights with named axes."""
    yield Text.assemble((f"Layer {layer['index']} {layer['path']}", "bold"), f"  {layer['type']} (op {layer['op']})")
    shapes = ", ".join(format_shape(s) for s in layer["output_shapes"]) or "?"
    yield Text(f"output: {shapes}    params: {layer['params']:,} (trainable {layer['trainable_params']:,})")
    if layer["activation"]:
        yield Text(f"activation: {layer['activation']}")
    inbound = "; ".join(", ".join(call) for call in layer["inbound"] if call)
    if inbound:
        yield Text(f"inbound: {inbound}", style="dim")
    if layer["unknown_reason"]:
        yield Text(f"shape unknown: {layer['unknown_reason']}", style="yellow")
    for note in layer["notes"]:
        yield Text(f"note: {note}", style="dim")
    if layer["weights"]:
        yield from weights_lines(layer["weights"])


def config_view(config: dict[str, Any]) -> Iterator[RenderableType]:
    """The layer's config as the file records it, as pretty JSON."""
    if config:
        yield Text("config:", style="bold")
        yield JSON.from_data(config, indent=2, default=str)


def weights_lines(weights: list[dict[str, Any]]) -> Iterator[RenderableType]:
    """Each stored weight on its own lines: its axes as the file's own indexing
    (``kernel[kh, kw, in, out]``) and shape, then layout and dtype; a narrow pane wraps
    them between words, never cutting one."""
    yield Text("weights (native indexing):", style="bold")
    for w in weights:
        shape = "×".join(map(str, w["shape"])) or "scalar"
        yield Text(f"  {w['role']}[{', '.join(w['axes'])}]  {shape}")  # Text: brackets are not markup
        yield Text(f"    {w['layout']} ({w['convention']}){' flipped' if w['flipped'] else ''}, {w['dtype']}", style="dim")


class HelpScreen(ModalScreen):
    """Every key, from the one table the app binds."""

    BINDINGS = [("escape,question_mark,q", "app.pop_screen", "close")]
    DEFAULT_CSS = "HelpScreen { align: center middle; } #help { width: auto; border: round $accent; padding: 1 2; background: $surface; }"

    def compose(self) -> ComposeResult:
        table = Table(show_edge=False, box=None)
        table.add_column("key", style="bold")
        table.add_column("what it does")
        for key in KEYS:
            table.add_row(key.label, key.description)
        yield Pane(Group(Text("cnninspect explore: keys", style="bold"), table, Text("Esc closes this panel", style="dim")), id="help")
