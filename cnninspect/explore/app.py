"""The inspector: a tree of layers on the left, the selected layer on the right.

It opens on metadata alone (the shapes report reads no weight data); a layer's filters and
statistics are read in thread workers when it is shown, so the interface never waits on
the file, and a newer request cancels the one it replaces (exclusive workers).

With ``inputs`` (``--input``) the network runs once at start for every layer call's
statistics; a layer's strongest maps are computed again when it is shown, and the filter
view of a convolution or dense layer carries the live equation of its map.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Sequence

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
from ..render.activations import activations_view
from ..render.live import live_view
from ..render.tables import connections_body, feeds_header, filters_header, weights_view
from ..reports.filters import LIVE_OPS, feeds_report, filters_report, live_filters_report
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

    def __init__(self, model: Model, shapes: dict[str, Any], dequantize: bool = False, inputs: Sequence[Any] = ()) -> None:
        super().__init__()
        self.inputs = list(inputs)  # prepared --input arrays (loaders.inputs.Prepared)
        self.activations: dict[str, Any] | None = None  # the activations report, once it ran
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
                yield Pane(id="live", classes="section")
                yield Pane(id="activations", classes="section")
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
        if self.inputs:
            self.panes["activations"].show(Text("running the network…", style="dim"))
            self.run_network()

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
        self.panes["live"].show("")
        if layer["channels"] is not None:
            self.load_connections()
        else:
            self.panes["connection"].show("")
            self.panes["filters"].show("")
        if self.activations is not None:
            self.load_activations()

    @property
    def has_filters(self) -> bool:
        return self.row is not None and self.layers[self.row.index]["channels"] is not None

    def load_connections(self) -> None:
        self.panes["connection"].show(Text(READING, style="dim"))
        self.read_connections(self.row, self.reverse, self.map)

    @work(thread=True, exclusive=True, group="connections", exit_on_error=False)
    def read_connections(self, row: Row, reverse: bool, n: int) -> None:
        live = None  # why there is no live equation
        report: dict[str, Any] | None = None
        try:
            if self.inputs and not reverse and row.layer.op in LIVE_OPS:
                from ..forward.layers import NotComputable

                try:  # filters_report with the equation computed on the inputs
                    report = live_filters_report(self.model, row, n, self.inputs, "float32", None, False, self.dequantize)[0]
                except NotComputable as exc:  # the filters are shown without it
                    live = f"live equation: {exc}"
                except Exception as exc:
                    live = f"live equation: {failure_text(exc)}"
            if report is None:
                report = (feeds_report if reverse else filters_report)(self.model, row, n, False, self.dequantize)
        except Exception as exc:  # shown in the pane: the app goes on with other layers
            report = {"error": failure_text(exc)}
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.show_connections, row, report, live)

    def show_connections(self, row: Row, report: dict[str, Any], live: str | None = None) -> None:
        if self.row is not row:
            return  # a stale answer for a layer no longer shown
        if "self_check" in report:
            self.panes["live"].show(Group(*live_view(report)))
        else:
            self.panes["live"].show(Text(live or "", style="red"))
        if "error" in report:
            self.panes["connection"].show(Text(report["error"], style="red"))
            self.panes["filters"].show("")
            return
        self.document = report
        header = feeds_header(report) if "outputs" in report else filters_header(report)
        keys = "←/→ step the input map, r: back to output maps" if "outputs" in report else "←/→ step the output map, r: what an input map feeds"
        self.panes["connection"].show(Group(*header, Text(keys, style="dim")))
        self.panes["filters"].show(Group(*connections_body(report, None)))

    # -- the network on --input ---------------------------------------------------------

    @work(thread=True, exclusive=True, group="network", exit_on_error=False)
    def run_network(self) -> None:
        from ..reports.activations import activations_report

        try:
            report: dict[str, Any] = activations_report(self.model, self.inputs)[0]
        except Exception as exc:
            report = {"error": failure_text(exc)}
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.network_ran, report)

    def network_ran(self, report: dict[str, Any]) -> None:
        if "error" in report:
            self.panes["activations"].show(Text(f"activations: {report['error']}", style="red"))
            return
        self.activations = report
        if self.row is None:
            self.panes["activations"].show(Text("activations computed: select a layer", style="dim"))
        else:
            self.load_activations()

    def load_activations(self) -> None:
        """The selected layer's calls from the report; a layer with maps has them computed
        again (the report keeps statistics only)."""
        assert self.activations is not None and self.row is not None
        calls = [entry for entry in self.activations["layers"] if entry["path"] == self.row.path]
        if not calls:
            stopped = self.activations.get("stopped")
            why = f"the network stopped before it: {stopped['reason']}" if stopped else "not run by the network"
            self.panes["activations"].show(Text(f"activations: {why}", style="dim"))
            return
        self.show_activations(self.row, calls, None)
        if len(calls[0]["shape"]) >= 3:
            self.read_maps(self.row, calls)

    @work(thread=True, exclusive=True, group="maps", exit_on_error=False)
    def read_maps(self, row: Row, calls: list[dict[str, Any]]) -> None:
        from ..reports.activations import activations_report

        try:
            maps = activations_report(self.model, self.inputs, chosen={row.path}, maps_of=row.path)[1]
        except Exception as exc:
            self.call_from_thread(self.panes["activations"].show, Text(f"activations: {failure_text(exc)}", style="red"))
            return
        if not get_current_worker().is_cancelled:
            self.call_from_thread(self.show_activations, row, calls, maps)

    def show_activations(self, row: Row, calls: list[dict[str, Any]], maps: Any) -> None:
        if self.row is not row or self.activations is None:
            return
        report = {**self.activations, "layers": calls}
        pane = Console(width=max(self.panes["activations"].size.width, 40), file=io.StringIO())
        shown = list(activations_view(report, pane, maps, "blocks", header=False))
        self.panes["activations"].show(Group(Text("activations (--input)", style="bold"), *shown))

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
