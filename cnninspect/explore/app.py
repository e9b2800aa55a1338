"""The inspector: a tree of layers on the left, the selected layer on the right.

It opens on metadata alone (the shapes report reads no weight data); a layer's filters and
statistics are read in thread workers when it is shown, so the interface never waits on
the file, and a newer request cancels the one it replaces (exclusive workers).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Static, Tree
from textual.worker import get_current_worker

from ..core.model import Model, Row
from ..errors import CnnInspectError, damaged_file
from ..render.jsondoc import dumps
from ..render.tables import connections_body, feeds_header, filters_header, weights_view
from ..reports.filters import feeds_report, filters_report
from ..reports.weights import weights_report
from .keys import KEYS
from .widgets import HelpScreen, LayerTree, Pane, config_view, layer_facts, totals_line

READING = "reading…"


class ExploreApp(App):
    TITLE = "cnninspect explore"
    CSS = """
    #totals { height: auto; padding: 0 1; background: $boost; }
    #layers { width: 45%; min-width: 30; }
    #detail { padding: 0 1; }
    #search { display: none; dock: bottom; }
    #search.open { display: block; }
    .section { margin-bottom: 1; height: auto; }
    """
    BINDINGS = [Binding(k.keys, k.action, k.footer or k.label, show=bool(k.footer)) for k in KEYS if k.action]

    def __init__(self, model: Model, shapes: dict[str, Any], dequantize: bool = False) -> None:
        super().__init__()
        self.model = model
        self.dequantize = dequantize  # quantized weights read as real values (filters --dequantize)
        self.shapes = shapes
        self.rows = {r.index: r for r in model.rows()}
        self.layers = {layer["index"]: layer for layer in shapes["layers"]}
        self.row: Row | None = None
        self.reverse = False  # False: what feeds output map N; True: what input map i feeds
        self.map = 0
        self.document: dict[str, Any] = shapes  # the JSON document of what is on screen
        self.nodes: dict[int, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static(totals_line(self.shapes), id="totals")
        with Horizontal():
            yield LayerTree(self.shapes.get("model") or "model", id="layers")
            with VerticalScroll(id="detail"):
                yield Pane(id="facts", classes="section")
                yield Pane(id="connection", classes="section")
                yield Pane(id="filters", classes="section")
                yield Pane(id="stats", classes="section")
                yield Pane(id="config", classes="section")
        yield Input(placeholder="layer name (Enter: next match, Esc: close)", id="search")
        yield Footer()

    def on_mount(self) -> None:
        # Kept, not queried: a query sees only the screen on top (the help panel, say)
        self.panes = {pane.id: pane for pane in self.query(Pane)}
        self.search_box = self.query_one("#search", Input)
        self.layer_tree = self.query_one(LayerTree)
        self.nodes = self.layer_tree.fill(self.shapes)
        self.detail = self.query_one("#detail", VerticalScroll)
        self.layer_tree.fit(self.shapes, self.nodes, self.size.width)
        self.layer_tree.focus()
        notes = self.shapes.get("notes") or []
        self.panes["facts"].show(
            Group(Text("Select a layer on the left; ? lists the keys."), *(Text(f"note: {n}", style="dim") for n in notes))
        )

    def on_resize(self, event: Any) -> None:
        if self.nodes:
            self.layer_tree.fit(self.shapes, self.nodes, event.size.width)

    # -- the selected layer -------------------------------------------------------------

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        index = event.node.data
        if index is None or (self.row is not None and self.row.index == index):
            return
        self.show_layer(index)

    def show_layer(self, index: int) -> None:
        self.row = self.rows[index]
        self.reverse, self.map = False, 0
        layer = self.layers[index]
        self.panes["facts"].show(Group(*layer_facts(layer)))
        self.panes["config"].show(Group(*config_view(self.row.layer.config)))
        hint = "s: statistics of these weights" if layer["weights"] else ""
        self.panes["stats"].show(Text(hint, style="dim"))
        self.document = weights_report(self.model, [self.row], False, None, self.dequantize)
        self.detail.scroll_home(animate=False)  # every layer opens on its facts
        if layer["channels"] is not None:
            self.load_connections()
        else:
            self.panes["connection"].show("")
            self.panes["filters"].show("")

    @property
    def has_filters(self) -> bool:
        return self.row is not None and self.layers[self.row.index]["channels"] is not None

    def load_connections(self) -> None:
        self.panes["connection"].show(Text(READING, style="dim"))
        self.read_connections(self.row, self.reverse, self.map)

    @work(thread=True, exclusive=True, group="connections", exit_on_error=False)
    def read_connections(self, row: Row, reverse: bool, n: int) -> None:
        try:
            report = (feeds_report if reverse else filters_report)(self.model, row, n, False, self.dequantize)
        except Exception as exc:  # shown in the pane: the app goes on with other layers
            report = {"error": failure_text(exc)}
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.show_connections, row, report)

    def show_connections(self, row: Row, report: dict[str, Any]) -> None:
        if self.row is not row:
            return  # a stale answer for a layer no longer shown
        if "error" in report:
            self.panes["connection"].show(Text(report["error"], style="red"))
            self.panes["filters"].show("")
            return
        self.document = report
        header = feeds_header(report) if "outputs" in report else filters_header(report)
        keys = "←/→ step the input map, r: back to output maps" if "outputs" in report else "←/→ step the output map, r: what an input map feeds"
        self.panes["connection"].show(Group(*header, Text(keys, style="dim")))
        self.panes["filters"].show(Group(*connections_body(report, None)))

    # -- actions -----------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        """Steps N (or i) within the count the shown report states."""
        count = self.document.get("in_maps" if self.reverse else "out_maps")
        if not self.has_filters or not count:
            return
        new = min(max(self.map + delta, 0), count - 1)
        if new != self.map:
            self.map = new
            self.load_connections()

    def action_flip(self) -> None:
        if not self.has_filters:
            return
        self.reverse = not self.reverse
        self.map = 0
        self.load_connections()

    def action_stats(self) -> None:
        if self.row is None or not self.row.layer.weights:
            return
        self.panes["stats"].show(Text(READING, style="dim"))
        self.detail.scroll_to_widget(self.panes["stats"], animate=False, top=True)  # where the statistics will be
        self.read_stats(self.row)

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def read_stats(self, row: Row) -> None:
        try:
            report = weights_report(self.model, [row], True, None, self.dequantize)
        except Exception as exc:
            report = {"error": failure_text(exc)}
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.show_stats, row, report)

    def show_stats(self, row: Row, report: dict[str, Any]) -> None:
        if self.row is not row:
            return
        if "error" in report:
            self.panes["stats"].show(Text(report["error"], style="red"))
            return
        if not self.has_filters:
            self.document = report
        # The table is laid out for the pane's width (measured on a console of that width).
        pane = Console(width=max(self.panes["stats"].size.width, 40), file=io.StringIO())
        self.panes["stats"].show(Group(Text("statistics (s)", style="bold"), *weights_view(report, pane, in_app=True)))
        self.call_after_refresh(self.detail.scroll_to_widget, self.panes["stats"], animate=False, top=True)

    def action_export(self) -> None:
        name = export_name(self.document, self.row.path if self.row is not None else None)
        text = dumps(self.document, indent=2)
        path = Path.cwd() / name
        try:
            path.write_text(text + "\n")
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror}", severity="error")
            return
        self.notify(f"wrote {path}", title="export", timeout=8, markup=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- search ------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.search_box
        box.add_class("open")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._jump(event.value, after=None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._jump(event.value, after=self.row.index if self.row is not None else None)

    def on_key(self, event: Any) -> None:
        box = self.search_box
        if event.key == "escape" and box.has_class("open"):
            box.remove_class("open")
            self.layer_tree.focus()
            event.stop()

    def _jump(self, text: str, after: int | None) -> None:
        """To the first layer whose name or path holds ``text`` (after row ``after``,
        wrapping round)."""
        text = text.strip().lower()
        if not text:
            return
        order = sorted(self.layers)
        if after is not None:
            order = [i for i in order if i > after] + [i for i in order if i <= after]
        found = next((i for i in order if text in self.layers[i]["path"].lower()), None)
        if found is None:
            self.notify(f"no layer matches '{text}'", severity="warning", timeout=2)
            return
        node = self.nodes[found]
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        self.layer_tree.move_cursor(node)
        self.show_layer(found)


def failure_text(exc: Exception) -> str:
    """What the command line would say of a failure, in one line."""
    if isinstance(exc, CnnInspectError):
        return exc.message
    damaged = damaged_file(exc)
    if damaged is not None:
        return damaged.message
    return f"internal error: {type(exc).__name__}: {exc}"


def export_name(document: dict[str, Any], layer: str | None) -> str:
    """``cnninspect-<layer>-out<N>.json`` (filters), ``-in<I>`` (feeds), ``-weights`` or
    ``cnninspect-<model>-shapes.json``."""
    kind = document["schema"].split(".")[1].split("/")[0]
    if kind == "shapes" or layer is None:
        return f"cnninspect-{_safe(document.get('model') or 'model')}-shapes.json"
    if kind == "weights":
        return f"cnninspect-{_safe(layer)}-weights.json"
    suffix = f"out{document['out']}" if kind == "filters" else f"in{document['in']}"
    return f"cnninspect-{_safe(layer)}-{suffix}.json"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "layer"
