"""Write PyTorch files that carry their forward graph, and the truth PyTorch reports.

Run with the pinned CPU torch (``pip install torch==2.13.0``; CI does not need torch):

    python scripts/make_torch_graph_fixtures.py

For each model below it writes, under ``tests/fixtures/torch/graphs/``:

* ``<model>_script.pt``: ``torch.jit.save(torch.jit.script(model))``: the forward graph is
  TorchScript source under ``code/``, calling submodules and ``torch.nn.functional``;
* ``<model>_trace.pt``: ``torch.jit.save(torch.jit.trace(model, x))``: the source calls aten
  ops with literal hyperparameters;
* ``<model>.pt2``: ``torch.export.save(torch.export.export(model, (x,)))``: the graph as JSON;
* ``<model>_module.pt``: ``torch.save(model)``, the whole pickled module (no forward);
* ``<model>.graph_truth.json``: the input shape, the output shape, ``parameters()`` and
  buffers as named by ``named_parameters()``/``named_buffers()``, forward-hook output shapes
  per leaf module path (``named_modules()`` names), and the aten ops each graph runs in
  order, as torch lists them (``inlined_graph`` for TorchScript, ``ep.graph`` for export).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch" / "graphs"


class Block(nn.Module):
    """A residual block: conv, BN, ReLU, grouped conv, added to its input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.conv2(y))


class ResNetTiny(nn.Module):
    """Stem, two residual blocks, global pooling, torch.flatten, a head (3x16x16 inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class LeNet5(nn.Module):
    """LeNet-5 whose forward flattens with ``view`` and uses functional pooling (1x32x32)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.softmax(self.fc3(x), dim=1)


class Branches(nn.Module):
    """Two branches joined by torch.cat, a ceil-mode max pool, a reshape (3x15x15)."""

    def __init__(self) -> None:
        super().__init__()
        self.left = nn.Conv2d(3, 4, 1)
        self.right = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.head = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.left(x), self.right(x)], dim=1)
        y = self.pool(y)
        return self.head(torch.reshape(y, (y.shape[0], -1)))


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "resnet_tiny": (ResNetTiny, (1, 3, 16, 16)),
    "lenet5": (LeNet5, (1, 1, 32, 32)),
    "branches": (Branches, (1, 3, 15, 15)),
}


def _leaf_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    hooks = []

    def record(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            shapes.setdefault(name, list(output.shape))  # the first call
        return hook

    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(record(name)))
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return shapes


def _aten_ops(graph: Any) -> list[str]:
    """The aten operators a graph runs, in order (constants and list building left out)."""
    kinds = (node.kind() for node in graph.nodes())
    return [kind.split("::", 1)[1] for kind in kinds if kind.startswith("aten::")]


def _export_ops(program: Any) -> list[str]:
    return [str(node.target).split(".")[1]
            for node in program.graph.nodes if node.op == "call_function"]


def write(name: str, build: Callable[[], nn.Module], input_shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the defaults
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    x = torch.randn(input_shape)
    scripted = torch.jit.script(model)
    traced = torch.jit.trace(model, x)
    program = torch.export.export(model, (x,))
    torch.jit.save(scripted, OUT / f"{name}_script.pt")
    torch.jit.save(traced, OUT / f"{name}_trace.pt")
    torch.export.save(program, OUT / f"{name}.pt2")
    torch.save(model, OUT / f"{name}_module.pt")
    with torch.no_grad():
        out = model(x)
    truth = {
        "torch_version": torch.__version__,
        "input_shape": list(input_shape),
        "output_shape": list(out.shape),
        "parameters": {n: list(p.shape) for n, p in model.named_parameters()},
        "buffers": {n: list(b.shape) for n, b in model.named_buffers()},
        "param_count": sum(p.numel() for p in model.parameters()),
        "state_dict_order": list(model.state_dict()),
        "leaf_output_shapes": _leaf_shapes(model, x),
        "aten_ops": {
            "script": _aten_ops(scripted.inlined_graph),
            "trace": _aten_ops(traced.inlined_graph),
            "export": _export_ops(program),
        },
    }
    (OUT / f"{name}.graph_truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (build, shape) in MODELS.items():
        write(name, build, shape)
        print("wrote", name)


if __name__ == "__main__":
    main()
