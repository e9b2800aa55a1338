"""The forward graphs of TorchScript and torch.export files, against what PyTorch lists.

The fixtures and their truth come from ``scripts/make_torch_graph_fixtures.py`` (torch
2.13): the aten ops ``torch.export`` traced for the same model and input, the parameter
names ``named_parameters()`` gives, and the input shape.
"""

from __future__ import annotations

import json
import pickletools
import zipfile
from pathlib import Path

import pytest

from cnninspect.loaders import torch_graph as tg

GRAPHS = Path(__file__).parent / "fixtures" / "torch" / "graphs"
MODELS = sorted(p.name.removesuffix(".graph_truth.json") for p in GRAPHS.glob("*.graph_truth.json"))
# What the two writers call the same computation, and the scalar ops a trace records
# for ``x.size(0)``: the reading folds those into symbolic dims.
SAME = {"_convolution": "conv2d"}


def _truth(model: str) -> dict:
    return json.loads((GRAPHS / f"{model}.graph_truth.json").read_text())


def _top(zf: zipfile.ZipFile) -> str:
    return zf.namelist()[0].split("/")[0]


def _script_graph(path: Path) -> tg.AtenGraph:
    with zipfile.ZipFile(path) as zf:
        top = _top(zf)
        sources = {n: zf.read(n).decode() for n in zf.namelist() if "/code/" in n and n.endswith(".py")}
        data = zf.read(f"{top}/data.pkl")
    root = next(arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL").replace(" ", ".")
    return tg.from_torchscript(sources, root)


def _export_graph(path: Path) -> tg.AtenGraph:
    with zipfile.ZipFile(path) as zf:
        return tg.from_export(json.loads(zf.read(f"{_top(zf)}/models/model.json")))


READERS = {"script": ("_script.pt", _script_graph), "trace": ("_trace.pt", _script_graph), "export": (".pt2", _export_graph)}


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("model", MODELS)
def test_the_graph_runs_the_ops_torch_export_traced(model: str, kind: str) -> None:
    suffix, read = READERS[kind]
    graph = read(GRAPHS / f"{model}{suffix}")
    assert [SAME.get(n.op, n.op) for n in graph.nodes] == _truth(model)["aten_ops"]["export"]


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("model", MODELS)
def test_every_parameter_is_used_by_its_module_under_its_state_dict_name(model: str, kind: str) -> None:
    suffix, read = READERS[kind]
    graph = read(GRAPHS / f"{model}{suffix}")
    used = {a.name: n.module for n in graph.nodes for a in [*n.args, *n.kwargs.values()] if isinstance(a, tg.Param)}
    truth = _truth(model)
    stored = set(truth["parameters"]) | set(truth["buffers"])
    # A scripted Conv2d(bias=False) still lists ``bias`` as a parameter (holding None).
    assert {n for n in used if n in stored} == {n for n in stored if not n.endswith("num_batches_tracked")}
    assert all(n.endswith(".bias") for n in used if n not in stored)
    assert all(name.rsplit(".", 1)[0] == module for name, module in used.items())


@pytest.mark.parametrize("model", MODELS)
def test_export_records_the_input_shape(model: str) -> None:
    graph = _export_graph(GRAPHS / f"{model}.pt2")
    assert graph.input_shapes == [tuple(_truth(model)["input_shape"])]


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_a_reshape_by_the_batch_dim_stays_symbolic(kind: str) -> None:
    suffix, read = READERS[kind]
    graph = read(GRAPHS / f"branches{suffix}")
    reshape = next(n for n in graph.nodes if n.op == "reshape")
    target = reshape.args[1]
    assert target[1] == -1 and isinstance(target[0], tg.Dim) and target[0].axis == 0
    assert target[0].tensor == reshape.args[0]


def _source(forward_body: str) -> dict[str, str]:
    return {
        "m/code/__torch__.py": (
            "class Net(Module):\n"
            "  __parameters__ = []\n"
            "  def forward(self: __torch__.Net,\n    x: Tensor) -> Tensor:\n" + forward_body
        )
    }


@pytest.mark.parametrize(
    "body, reason",
    [
        ("    if torch.gt(torch.sum(x), 0):\n      x = torch.relu(x)\n    else:\n      x = torch.neg(x)\n    return x\n",
         "branches on a value known only at run time"),
        ("    while True:\n      pass\n    return x\n", "While statement"),
        ("    return __import__('os').system('touch /tmp/never')\n", "which the file does not define"),
        ("    return self.forward(x)\n", "nest deeper"),
    ],
)
def test_code_that_cannot_be_followed_says_why_and_never_runs(body: str, reason: str) -> None:
    with pytest.raises(tg.GraphUnreadable, match=reason):
        tg.from_torchscript(_source(body), "__torch__.Net")


def test_source_that_does_not_parse_is_a_damaged_file() -> None:
    from cnninspect.errors import BrokenFile

    with pytest.raises(BrokenFile, match="does not parse"):
        tg.from_torchscript({"m/code/__torch__.py": "class Net(:\n"}, "__torch__.Net")


FILES = {"script": "_script.pt", "trace": "_trace.pt", "export": ".pt2"}


@pytest.mark.parametrize("kind", sorted(FILES))
@pytest.mark.parametrize("model", MODELS)
def test_shapes_from_the_graph_are_the_forward_hooks(model: str, kind: str) -> None:
    """Through the loader, every leaf module's output shape is the one PyTorch's forward
    hook saw, under its named_modules() name; residual adds and functional flattens
    included. torch.export records the input shape; TorchScript needs --input-shape."""
    from conftest import cli_json

    truth = _truth(model)
    args = ["shapes", str(GRAPHS / f"{model}{FILES[kind]}"), "--batch", "1"]
    if kind != "export":
        args += ["--input-shape", ",".join(map(str, truth["input_shape"][1:]))]
    report = cli_json(*args)
    rows = {row["name"]: row for row in report["layers"]}
    for name, shape in truth["leaf_output_shapes"].items():
        assert rows[name]["output_shapes"] == [shape], name
    assert report["outputs"][0]["shape"] == truth["output_shape"]
    stored = {w["name"] for row in report["layers"] for w in row["weights"]}
    assert stored == set(truth["parameters"]) | set(truth["buffers"])


def test_an_export_archive_needs_no_input_shape() -> None:
    from conftest import cli_json

    report = cli_json("shapes", str(GRAPHS / "lenet5.pt2"))
    assert report["inputs"][0]["shape"] == _truth("lenet5")["input_shape"]
    assert report["source"]["format"] == "torch-export" and report["source"]["library_version"].startswith("2.13")
