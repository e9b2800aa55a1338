"""The ``graph`` report as Graphviz DOT or Mermaid text: layout only, no numbers computed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .tables import format_shape


def _label_lines(node: dict[str, Any]) -> list[str]:
    lines = [node["name"] if node["call"] == 0 else f"{node['name']} (call {node['call']})", node["type"]]
    lines.append(format_shape(node["shape"]))
    if node["params"]:
        lines.append(f"{node['params']:,} params")
    if node.get("kernel") is not None:
        kernel = "×".join(str(k) for k in node["kernel"])
        stride = "×".join(str(s) for s in node["stride"]) if node.get("stride") else "?"
        lines.append(f"kernel {kernel}  stride {stride}  groups {node['groups']}")
    return lines


Nesting = dict[Optional[str], list[dict[str, Any]]]


def _nesting(doc: dict[str, Any]) -> tuple[Nesting, Nesting]:
    """The clusters inside each cluster, and the nodes directly in each (None: the top)."""
    children: Nesting = {}
    for cluster in doc["clusters"]:
        children.setdefault(cluster["parent"], []).append(cluster)
    members: Nesting = {}
    for node in doc["nodes"]:
        members.setdefault(node["cluster"], []).append(node)
    return children, members


@dataclass(frozen=True)
class _Syntax:
    """How one text format writes a node, a cluster's opening and closing, and an edge."""

    head: list[str]
    node: Callable[[dict[str, Any]], str]
    open: Callable[[dict[str, Any]], str]
    close: str
    edge: Callable[[dict[str, Any]], str]
    tail: list[str]


def _write(doc: dict[str, Any], syntax: _Syntax) -> str:
    out = list(syntax.head)
    children, members = _nesting(doc)

    def emit(cluster: Optional[str], indent: str) -> None:
        for node in members.get(cluster, []):
            out.append(indent + syntax.node(node))
        for sub in children.get(cluster, []):
            out.append(indent + syntax.open(sub))
            emit(sub["id"], indent + "  ")
            out.append(indent + syntax.close)

    emit(None, "  ")
    out.extend("  " + syntax.edge(edge) for edge in doc["edges"])
    return "\n".join(out + syntax.tail) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(doc: dict[str, Any]) -> str:
    return _write(
        doc,
        _Syntax(
            head=[f"digraph {_dot_quote(doc['model'])} {{", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];'],
            node=lambda n: f"{_dot_quote(n['id'])} [label={_dot_quote(chr(10).join(_label_lines(n)))}];",
            open=lambda c: f"subgraph {_dot_quote('cluster_' + c['id'])} {{ label={_dot_quote(_cluster_title(c))};",
            close="}",
            edge=lambda e: f"{_dot_quote(e['from'])} -> {_dot_quote(e['to'])};",
            tail=["}"],
        ),
    )


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(doc: dict[str, Any]) -> str:
    ids: dict[str, str] = {}

    def ident(key: str) -> str:
        return ids.setdefault(key, f"n{len(ids)}")

    return _write(
        doc,
        _Syntax(
            head=["flowchart TB"],
            node=lambda n: f'{ident(n["id"])}["{"<br/>".join(_mermaid_text(line) for line in _label_lines(n))}"]',
            open=lambda c: f'subgraph {ident("cluster:" + c["id"])}["{_mermaid_text(_cluster_title(c))}"]',
            close="end",
            edge=lambda e: f"{ident(e['from'])} --> {ident(e['to'])}",
            tail=[],
        ),
    )


def _cluster_title(cluster: dict[str, Any]) -> str:
    return f"{cluster['name']} ({cluster['type']})"
